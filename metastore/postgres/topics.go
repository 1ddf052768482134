package postgres

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stratalog/strata/metastore"
)

// CreateTopic creates the topic and its partitions (unowned, epoch 0,
// offsets 0) in one transaction. A zero t.ID is replaced by a random
// (version 4) UUID and a zero t.CreatedAt by the current time. ErrExists if
// the name or the ID is taken.
func (s *Store) CreateTopic(ctx context.Context, t metastore.Topic) error {
	if t.Name == "" {
		return errors.New("postgres: create topic: empty name")
	}
	if t.Partitions <= 0 {
		return fmt.Errorf("postgres: create topic %q: partition count %d is not positive", t.Name, t.Partitions)
	}
	if t.ID.IsZero() {
		t.ID = newTopicID()
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now()
	}
	configs, err := encodeConfigs(t.Configs)
	if err != nil {
		return fmt.Errorf("postgres: create topic %q: %w", t.Name, err)
	}
	err = s.update(ctx, func(tx pgx.Tx) error {
		// The unique constraints on name and topic_id decide races
		// between creators.
		if _, err := tx.Exec(ctx, insertTopic, uuid(t.ID), t.Name, t.Partitions,
			t.ReplicationFactor, configs, timeToNanos(t.CreatedAt)); err != nil {
			if isCode(err, codeUniqueViolation) {
				return metastore.ErrExists
			}
			return err
		}
		_, err := tx.Exec(ctx, insertPartitions, uuid(t.ID), 0, t.Partitions)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: create topic %q: %w", t.Name, err)
	}
	return nil
}

// DeleteTopic removes the topic, its partitions, segment rows and producer
// states in one transaction and returns the deleted topic. The objects
// stay in the objects table, garbage once nothing references them; group
// offsets (keyed by name) stay too.
func (s *Store) DeleteTopic(ctx context.Context, name string) (metastore.Topic, error) {
	var t metastore.Topic
	err := s.update(ctx, func(tx pgx.Tx) error {
		var err error
		t, err = scanTopic(tx.QueryRow(ctx, selectTopicForUpdate, name))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, lockTopicPartitions, uuid(t.ID)); err != nil {
			return err
		}
		for _, q := range []string{deleteTopicSegments, deleteTopicProducers, deleteTopicParts, deleteTopic} {
			if _, err := tx.Exec(ctx, q, uuid(t.ID)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return metastore.Topic{}, fmt.Errorf("postgres: delete topic %q: %w", name, err)
	}
	return t, nil
}

// Topic returns one topic by name. ErrNotFound if absent.
func (s *Store) Topic(ctx context.Context, name string) (metastore.Topic, error) {
	t, err := scanTopic(s.pool.QueryRow(ctx, selectTopicByName, name))
	if err != nil {
		return metastore.Topic{}, fmt.Errorf("postgres: topic %q: %w", name, err)
	}
	return t, nil
}

// Topics lists all topics ordered by name (byte order).
func (s *Store) Topics(ctx context.Context) ([]metastore.Topic, error) {
	rows, err := s.pool.Query(ctx, selectTopics)
	if err != nil {
		return nil, fmt.Errorf("postgres: topics: %w", err)
	}
	defer rows.Close()
	var topics []metastore.Topic
	for rows.Next() {
		t, err := scanTopic(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: topics: %w", err)
		}
		topics = append(topics, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: topics: %w", err)
	}
	return topics, nil
}

// SetTopicConfigs replaces the topic's explicit configs; nil or empty
// clears them. ErrNotFound if the topic is absent.
func (s *Store) SetTopicConfigs(ctx context.Context, name string, configs map[string]string) error {
	enc, err := encodeConfigs(configs)
	if err != nil {
		return fmt.Errorf("postgres: set topic configs %q: %w", name, err)
	}
	err = s.update(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, updateTopicConfigs, name, enc)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return metastore.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: set topic configs %q: %w", name, err)
	}
	return nil
}

// Partitions lists the partitions of a topic ordered by partition.
// ErrNotFound if the topic does not exist.
func (s *Store) Partitions(ctx context.Context, id metastore.TopicID) ([]metastore.Partition, error) {
	rows, err := s.pool.Query(ctx, selectPartitions, uuid(id))
	if err != nil {
		return nil, fmt.Errorf("postgres: partitions of %s: %w", id.String(), err)
	}
	defer rows.Close()
	var parts []metastore.Partition
	for rows.Next() {
		p, err := scanPartition(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: partitions of %s: %w", id.String(), err)
		}
		parts = append(parts, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: partitions of %s: %w", id.String(), err)
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("postgres: partitions of %s: %w", id.String(), metastore.ErrNotFound)
	}
	return parts, nil
}

// Claim makes agentID the owner of the partition with epoch expectEpoch+1,
// provided its current epoch is expectEpoch, and returns the new state.
// ErrFenced if the epoch has moved on, ErrNotFound if there is no such
// partition. Racing claims are decided by the conditional UPDATE: the
// loser re-reads the winner's epoch and fails.
func (s *Store) Claim(ctx context.Context, agentID string, id metastore.TopicID, partition int32, expectEpoch int32) (metastore.Partition, error) {
	if agentID == "" {
		return metastore.Partition{}, errors.New("postgres: claim: empty agent ID")
	}
	var p metastore.Partition
	err := s.update(ctx, func(tx pgx.Tx) error {
		var err error
		p, err = scanPartition(tx.QueryRow(ctx, claimPartition, agentID, uuid(id), partition, expectEpoch))
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var epoch int32
		err = tx.QueryRow(ctx, selectPartitionEpoch, uuid(id), partition).Scan(&epoch)
		if errors.Is(err, pgx.ErrNoRows) {
			return metastore.ErrNotFound
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("%w: epoch is %d, expected %d", metastore.ErrFenced, epoch, expectEpoch)
	})
	if err != nil {
		return metastore.Partition{}, fmt.Errorf("postgres: claim %s/%d by %q: %w", id.String(), partition, agentID, err)
	}
	return p, nil
}

// Release gives up ownership (see metastore.Store).
func (s *Store) Release(ctx context.Context, agentID string, id metastore.TopicID, partition int32, epoch int32) error {
	err := s.update(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, releasePartition, uuid(id), partition, agentID, epoch)
		if err != nil || tag.RowsAffected() == 1 {
			return err
		}
		var cur int32
		err = tx.QueryRow(ctx, selectPartitionEpoch, uuid(id), partition).Scan(&cur)
		if errors.Is(err, pgx.ErrNoRows) {
			return metastore.ErrNotFound
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("%w: not owned by %q at epoch %d (epoch is %d)", metastore.ErrFenced, agentID, epoch, cur)
	})
	if err != nil {
		return fmt.Errorf("postgres: release %s/%d by %q: %w", id.String(), partition, agentID, err)
	}
	return nil
}

// SetLogStartOffset raises the partition's log start offset to offset and
// returns the new value. It never lowers it (a lower offset returns the
// current one unchanged); an offset above the high watermark is
// ErrConflict, a missing partition ErrNotFound. The partition's row lock
// orders it with flushes.
func (s *Store) SetLogStartOffset(ctx context.Context, id metastore.TopicID, partition int32, offset int64) (int64, error) {
	var start int64
	err := s.update(ctx, func(tx pgx.Tx) error {
		var hwm int64
		err := tx.QueryRow(ctx, selectPartitionBoundsForUpdate, uuid(id), partition).Scan(&hwm, &start)
		if errors.Is(err, pgx.ErrNoRows) {
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
		_, err = tx.Exec(ctx, setLogStartOffset, uuid(id), partition, offset)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: set log start offset of %s/%d to %d: %w", id.String(), partition, offset, err)
	}
	return start, nil
}

// AddPartitions grows the topic to total partitions (the new ones unowned,
// epoch 0, empty) in one transaction and returns the topic. ErrConflict
// unless total is above the current count; ErrNotFound if absent.
func (s *Store) AddPartitions(ctx context.Context, name string, total int32) (metastore.Topic, error) {
	var t metastore.Topic
	err := s.update(ctx, func(tx pgx.Tx) error {
		var err error
		t, err = scanTopic(tx.QueryRow(ctx, selectTopicForUpdate, name))
		if err != nil {
			return err
		}
		if total <= t.Partitions {
			return fmt.Errorf("%w: topic has %d partitions, asked for %d", metastore.ErrConflict, t.Partitions, total)
		}
		if _, err := tx.Exec(ctx, insertPartitions, uuid(t.ID), t.Partitions, total); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, updateTopicPartitions, uuid(t.ID), total); err != nil {
			return err
		}
		t.Partitions = total
		return nil
	})
	if err != nil {
		return metastore.Topic{}, fmt.Errorf("postgres: add partitions to %q: %w", name, err)
	}
	return t, nil
}

// scanTopic reads a row of topicColumns; pgx.ErrNoRows becomes
// metastore.ErrNotFound.
func scanTopic(row pgx.Row) (metastore.Topic, error) {
	var (
		t         metastore.Topic
		id        pgtype.UUID
		configs   []byte
		createdAt int64
	)
	err := row.Scan(&id, &t.Name, &t.Partitions, &t.ReplicationFactor, &configs, &createdAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return metastore.Topic{}, metastore.ErrNotFound
	}
	if err != nil {
		return metastore.Topic{}, err
	}
	t.ID = id.Bytes
	if err := json.Unmarshal(configs, &t.Configs); err != nil {
		return metastore.Topic{}, fmt.Errorf("topic %q: decode configs: %w", t.Name, err)
	}
	if t.Configs == nil {
		t.Configs = map[string]string{}
	}
	t.CreatedAt = nanosToTime(createdAt)
	return t, nil
}

// scanPartition reads a row of partitionColumns.
func scanPartition(row pgx.Row) (metastore.Partition, error) {
	var (
		p  metastore.Partition
		id pgtype.UUID
	)
	if err := row.Scan(&id, &p.Partition, &p.Owner, &p.Epoch, &p.HighWatermark, &p.LogStartOffset); err != nil {
		return metastore.Partition{}, err
	}
	p.TopicID = id.Bytes
	return p, nil
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

// uuid is a topic ID as a query parameter.
func uuid(id metastore.TopicID) pgtype.UUID {
	return pgtype.UUID{Bytes: id, Valid: true}
}

// newTopicID returns a random version 4 UUID.
func newTopicID() metastore.TopicID {
	var id metastore.TopicID
	rand.Read(id[:])
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}
