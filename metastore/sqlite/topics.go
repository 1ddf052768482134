package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stratalog/strata/metastore"
)

// CreateTopic creates the topic and its partitions (unowned, epoch 0,
// offsets 0) in one transaction. A zero t.ID is replaced by a random
// (version 4) UUID and a zero t.CreatedAt by the current time. ErrExists if
// the name or the ID is taken.
func (s *Store) CreateTopic(ctx context.Context, t metastore.Topic) error {
	if t.Name == "" {
		return errors.New("sqlite: create topic: empty name")
	}
	if t.Partitions <= 0 {
		return fmt.Errorf("sqlite: create topic %q: partition count %d is not positive", t.Name, t.Partitions)
	}
	if t.ID.IsZero() {
		t.ID = newTopicID()
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now()
	}
	configs, err := encodeConfigs(t.Configs)
	if err != nil {
		return fmt.Errorf("sqlite: create topic %q: %w", t.Name, err)
	}
	err = s.update(ctx, func(tx *sql.Tx) error {
		var taken bool
		if err := tx.QueryRowContext(ctx, selectTopicNameTaken, t.Name, t.ID[:]).Scan(&taken); err != nil {
			return err
		}
		if taken {
			return metastore.ErrExists
		}
		if _, err := tx.ExecContext(ctx, insertTopic, t.ID[:], t.Name, t.Partitions,
			t.ReplicationFactor, configs, timeToNanos(t.CreatedAt)); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, insertPartition)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for p := range t.Partitions {
			if _, err := stmt.ExecContext(ctx, t.ID[:], p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: create topic %q: %w", t.Name, err)
	}
	return nil
}

// DeleteTopic removes the topic, its partitions, segment rows and producer
// states in one transaction and returns the deleted topic. The objects
// stay in the objects table, garbage once nothing references them.
func (s *Store) DeleteTopic(ctx context.Context, name string) (metastore.Topic, error) {
	var t metastore.Topic
	err := s.update(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = scanTopic(tx.QueryRowContext(ctx, selectTopicByName, name))
		if err != nil {
			return err
		}
		for _, q := range []string{deleteTopicSegments, deleteTopicProducers, deleteTopicParts, deleteTopic} {
			if _, err := tx.ExecContext(ctx, q, t.ID[:]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return metastore.Topic{}, fmt.Errorf("sqlite: delete topic %q: %w", name, err)
	}
	return t, nil
}

// Topic returns one topic by name. ErrNotFound if absent.
func (s *Store) Topic(ctx context.Context, name string) (metastore.Topic, error) {
	t, err := scanTopic(s.r.QueryRowContext(ctx, selectTopicByName, name))
	if err != nil {
		return metastore.Topic{}, fmt.Errorf("sqlite: topic %q: %w", name, err)
	}
	return t, nil
}

// Topics lists all topics ordered by name.
func (s *Store) Topics(ctx context.Context) ([]metastore.Topic, error) {
	rows, err := s.r.QueryContext(ctx, selectTopics)
	if err != nil {
		return nil, fmt.Errorf("sqlite: topics: %w", err)
	}
	defer rows.Close()
	var topics []metastore.Topic
	for rows.Next() {
		t, err := scanTopic(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: topics: %w", err)
		}
		topics = append(topics, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: topics: %w", err)
	}
	return topics, nil
}

// SetTopicConfigs replaces the topic's explicit configs; nil or empty
// clears them. ErrNotFound if the topic is absent.
func (s *Store) SetTopicConfigs(ctx context.Context, name string, configs map[string]string) error {
	enc, err := encodeConfigs(configs)
	if err != nil {
		return fmt.Errorf("sqlite: set topic configs %q: %w", name, err)
	}
	err = s.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, updateTopicConfigs, enc, name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return metastore.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: set topic configs %q: %w", name, err)
	}
	return nil
}

// Partitions lists the partitions of a topic ordered by partition.
// ErrNotFound if the topic does not exist.
func (s *Store) Partitions(ctx context.Context, id metastore.TopicID) ([]metastore.Partition, error) {
	var parts []metastore.Partition
	err := s.view(ctx, func(tx *sql.Tx) error {
		var exists bool
		if err := tx.QueryRowContext(ctx, selectTopicIDExists, id[:]).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return metastore.ErrNotFound
		}
		rows, err := tx.QueryContext(ctx, selectPartitions, id[:])
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			p, err := scanPartition(rows)
			if err != nil {
				return err
			}
			parts = append(parts, p)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: partitions of %s: %w", id.String(), err)
	}
	return parts, nil
}

// Claim makes agentID the owner of the partition with epoch expectEpoch+1,
// provided its current epoch is expectEpoch, and returns the new state.
// ErrFenced if the epoch has moved on, ErrNotFound if there is no such
// partition.
func (s *Store) Claim(ctx context.Context, agentID string, id metastore.TopicID, partition int32, expectEpoch int32) (metastore.Partition, error) {
	if agentID == "" {
		return metastore.Partition{}, errors.New("sqlite: claim: empty agent ID")
	}
	var p metastore.Partition
	err := s.update(ctx, func(tx *sql.Tx) error {
		var err error
		p, err = scanPartition(tx.QueryRowContext(ctx, claimPartition, agentID, id[:], partition, expectEpoch))
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var epoch int32
		err = tx.QueryRowContext(ctx, selectPartitionEpoch, id[:], partition).Scan(&epoch)
		if errors.Is(err, sql.ErrNoRows) {
			return metastore.ErrNotFound
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("%w: epoch is %d, expected %d", metastore.ErrFenced, epoch, expectEpoch)
	})
	if err != nil {
		return metastore.Partition{}, fmt.Errorf("sqlite: claim %s/%d by %q: %w", id.String(), partition, agentID, err)
	}
	return p, nil
}

// Release gives up ownership (see metastore.Store).
func (s *Store) Release(ctx context.Context, agentID string, id metastore.TopicID, partition int32, epoch int32) error {
	err := s.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, releasePartition, id[:], partition, agentID, epoch)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var cur int32
		err = tx.QueryRowContext(ctx, selectPartitionEpoch, id[:], partition).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return metastore.ErrNotFound
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("%w: not owned by %q at epoch %d (epoch is %d)", metastore.ErrFenced, agentID, epoch, cur)
	})
	if err != nil {
		return fmt.Errorf("sqlite: release %s/%d by %q: %w", id.String(), partition, agentID, err)
	}
	return nil
}

// scanner is the Scan method shared by *sql.Row and *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// scanTopic reads a row of topicColumns; sql.ErrNoRows becomes
// metastore.ErrNotFound.
func scanTopic(row scanner) (metastore.Topic, error) {
	var (
		t         metastore.Topic
		id        []byte
		configs   string
		createdAt int64
	)
	err := row.Scan(&id, &t.Name, &t.Partitions, &t.ReplicationFactor, &configs, &createdAt)
	if errors.Is(err, sql.ErrNoRows) {
		return metastore.Topic{}, metastore.ErrNotFound
	}
	if err != nil {
		return metastore.Topic{}, err
	}
	if t.ID, err = topicIDFromBytes(id); err != nil {
		return metastore.Topic{}, err
	}
	if err := json.Unmarshal([]byte(configs), &t.Configs); err != nil {
		return metastore.Topic{}, fmt.Errorf("topic %q: decode configs: %w", t.Name, err)
	}
	if t.Configs == nil {
		t.Configs = map[string]string{}
	}
	t.CreatedAt = nanosToTime(createdAt)
	return t, nil
}

// scanPartition reads a row of partitionColumns.
func scanPartition(row scanner) (metastore.Partition, error) {
	var (
		p  metastore.Partition
		id []byte
	)
	if err := row.Scan(&id, &p.Partition, &p.Owner, &p.Epoch, &p.HighWatermark, &p.LogStartOffset); err != nil {
		return metastore.Partition{}, err
	}
	var err error
	p.TopicID, err = topicIDFromBytes(id)
	return p, err
}

// encodeConfigs renders configs as a JSON object; nil becomes {}.
func encodeConfigs(configs map[string]string) (string, error) {
	if configs == nil {
		return "{}", nil
	}
	b, err := json.Marshal(configs)
	if err != nil {
		return "", fmt.Errorf("encode configs: %w", err)
	}
	return string(b), nil
}

// newTopicID returns a random version 4 UUID.
func newTopicID() metastore.TopicID {
	var id metastore.TopicID
	rand.Read(id[:])
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}

func topicIDFromBytes(b []byte) (metastore.TopicID, error) {
	var id metastore.TopicID
	if len(b) != len(id) {
		return id, fmt.Errorf("topic id has %d bytes, want %d", len(b), len(id))
	}
	copy(id[:], b)
	return id, nil
}

// SetLogStartOffset raises the partition's log start offset to offset and
// returns the new value. It never lowers it (a lower offset returns the
// current one unchanged); an offset above the high watermark is
// ErrConflict, a missing partition ErrNotFound.
func (s *Store) SetLogStartOffset(ctx context.Context, id metastore.TopicID, partition int32, offset int64) (int64, error) {
	var start int64
	err := s.update(ctx, func(tx *sql.Tx) error {
		var hwm int64
		err := tx.QueryRowContext(ctx, selectPartitionBounds, id[:], partition).Scan(&hwm, &start)
		if errors.Is(err, sql.ErrNoRows) {
			return metastore.ErrNotFound
		}
		if err != nil {
			return err
		}
		if offset > hwm {
			return fmt.Errorf("%w: offset %d is above the high watermark %d", metastore.ErrConflict, offset, hwm)
		}
		if offset <= start {
			return nil
		}
		start = offset
		_, err = tx.ExecContext(ctx, setLogStartOffset, offset, id[:], partition)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: set log start offset of %s/%d to %d: %w", id.String(), partition, offset, err)
	}
	return start, nil
}

// AddPartitions grows the topic to total partitions (the new ones unowned,
// epoch 0, empty) in one transaction and returns the topic. ErrConflict
// unless total is above the current count; ErrNotFound if absent.
func (s *Store) AddPartitions(ctx context.Context, name string, total int32) (metastore.Topic, error) {
	var t metastore.Topic
	err := s.update(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = scanTopic(tx.QueryRowContext(ctx, selectTopicByName, name))
		if err != nil {
			return err
		}
		if total <= t.Partitions {
			return fmt.Errorf("%w: topic has %d partitions, asked for %d", metastore.ErrConflict, t.Partitions, total)
		}
		stmt, err := tx.PrepareContext(ctx, insertPartition)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for p := t.Partitions; p < total; p++ {
			if _, err := stmt.ExecContext(ctx, t.ID[:], p); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, updateTopicPartitions, total, t.ID[:]); err != nil {
			return err
		}
		t.Partitions = total
		return nil
	})
	if err != nil {
		return metastore.Topic{}, fmt.Errorf("sqlite: add partitions to %q: %w", name, err)
	}
	return t, nil
}
