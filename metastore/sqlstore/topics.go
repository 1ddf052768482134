package sqlstore

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
		return s.errorf("create topic: empty name")
	}
	if t.Partitions <= 0 {
		return s.errorf("create topic %q: partition count %d is not positive", t.Name, t.Partitions)
	}
	if t.ID.IsZero() {
		t.ID = newTopicID()
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now()
	}
	configs, err := encodeConfigs(t.Configs)
	if err != nil {
		return s.errorf("create topic %q: %w", t.Name, err)
	}
	id := s.d.TopicID(t.ID)
	err = s.db.Update(ctx, func(tx Tx) error {
		// The unique constraints on name and topic_id decide races
		// between creators.
		if _, err := tx.Exec(ctx, s.q.InsertTopic, id, t.Name, t.Partitions,
			t.ReplicationFactor, configs, timeToNanos(t.CreatedAt)); err != nil {
			if s.d.IsUniqueViolation(err) {
				return metastore.ErrExists
			}
			return err
		}
		_, err := tx.Exec(ctx, s.q.InsertPartitions, id, 0, t.Partitions)
		return err
	})
	if err != nil {
		return s.errorf("create topic %q: %w", t.Name, err)
	}
	return nil
}

// DeleteTopic removes the topic, its partitions, index rows, leases and
// producer states in one transaction and returns the deleted topic. The
// objects stay in the objects table with their live bytes recomputed:
// those no other topic's rows reference are dead, garbage for collection.
// Group offsets (keyed by name) stay too.
func (s *Store) DeleteTopic(ctx context.Context, name string) (metastore.Topic, error) {
	var t metastore.Topic
	err := s.db.Update(ctx, func(tx Tx) error {
		var err error
		t, err = s.scanTopic(tx.QueryRow(ctx, s.q.SelectTopicForUpdate, name))
		if err != nil {
			return err
		}
		id := s.d.TopicID(t.ID)
		if s.q.LockTopicPartitions != "" {
			if _, err := tx.Exec(ctx, s.q.LockTopicPartitions, id); err != nil {
				return err
			}
		}
		keys, err := queryAll(ctx, tx, scanString, s.q.SelectTopicObjectKeys, id)
		if err != nil {
			return err
		}
		var stmts []Stmt
		for _, q := range []string{s.q.DeleteTopicIndexRows, s.q.DeleteTopicLeases, s.q.DeleteTopicProducers,
			s.q.DeleteTopicMarkers, s.q.DeleteTopicAborted, s.q.DeleteTopicParts, s.q.DeleteTopic} {
			stmts = append(stmts, Stmt{q, []any{id}})
		}
		stmts = append(stmts, s.accountObjects(keys, time.Now().UnixNano())...)
		return tx.Batch(ctx, stmts)
	})
	if err != nil {
		return metastore.Topic{}, s.errorf("delete topic %q: %w", name, err)
	}
	return t, nil
}

// Topic returns one topic by name. ErrNotFound if absent.
func (s *Store) Topic(ctx context.Context, name string) (metastore.Topic, error) {
	t, err := s.scanTopic(s.db.QueryRow(ctx, s.q.SelectTopicByName, name))
	if err != nil {
		return metastore.Topic{}, s.errorf("topic %q: %w", name, err)
	}
	return t, nil
}

// Topics lists all topics ordered by name (byte order).
func (s *Store) Topics(ctx context.Context) ([]metastore.Topic, error) {
	topics, err := queryAll(ctx, s.db, s.scanTopic, s.q.SelectTopics)
	if err != nil {
		return nil, s.errorf("topics: %w", err)
	}
	return topics, nil
}

// SetTopicConfigs replaces the topic's explicit configs; nil or empty
// clears them. ErrNotFound if the topic is absent.
func (s *Store) SetTopicConfigs(ctx context.Context, name string, configs map[string]string) error {
	enc, err := encodeConfigs(configs)
	if err != nil {
		return s.errorf("set topic configs %q: %w", name, err)
	}
	err = s.db.Update(ctx, func(tx Tx) error {
		n, err := tx.Exec(ctx, s.q.UpdateTopicConfigs, name, enc)
		if err == nil && n == 0 {
			err = metastore.ErrNotFound
		}
		return err
	})
	if err != nil {
		return s.errorf("set topic configs %q: %w", name, err)
	}
	return nil
}

// Partitions lists the partitions of a topic ordered by partition.
// ErrNotFound if the topic does not exist.
func (s *Store) Partitions(ctx context.Context, id metastore.TopicID) ([]metastore.Partition, error) {
	parts, err := queryAll(ctx, s.db, s.scanPartition, s.q.SelectPartitions, s.d.TopicID(id))
	if err == nil && len(parts) == 0 {
		err = metastore.ErrNotFound
	}
	if err != nil {
		return nil, s.errorf("partitions of %s: %w", id.String(), err)
	}
	return parts, nil
}

// AddPartitions grows the topic to total partitions (the new ones unowned,
// epoch 0, empty) in one transaction and returns the topic. ErrConflict
// unless total is above the current count; ErrNotFound if absent.
func (s *Store) AddPartitions(ctx context.Context, name string, total int32) (metastore.Topic, error) {
	var t metastore.Topic
	err := s.db.Update(ctx, func(tx Tx) error {
		var err error
		t, err = s.scanTopic(tx.QueryRow(ctx, s.q.SelectTopicForUpdate, name))
		if err != nil {
			return err
		}
		if total <= t.Partitions {
			return fmt.Errorf("%w: topic has %d partitions, asked for %d", metastore.ErrConflict, t.Partitions, total)
		}
		id := s.d.TopicID(t.ID)
		if _, err := tx.Exec(ctx, s.q.InsertPartitions, id, t.Partitions, total); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, s.q.UpdateTopicPartitions, id, total); err != nil {
			return err
		}
		t.Partitions = total
		return nil
	})
	if err != nil {
		return metastore.Topic{}, s.errorf("add partitions to %q: %w", name, err)
	}
	return t, nil
}

// Claim makes agentID the owner of the partition with epoch expectEpoch+1,
// provided its current epoch is expectEpoch, and returns the new state.
// ErrFenced if the epoch has moved on, ErrNotFound if there is no such
// partition. Racing claims are decided by the conditional UPDATE: the
// loser re-reads the winner's epoch and fails.
func (s *Store) Claim(ctx context.Context, agentID string, id metastore.TopicID, partition int32, expectEpoch int32) (metastore.Partition, error) {
	if agentID == "" {
		return metastore.Partition{}, s.errorf("claim: empty agent ID")
	}
	tid := s.d.TopicID(id)
	var p metastore.Partition
	err := s.db.Update(ctx, func(tx Tx) error {
		var err error
		p, err = s.scanPartition(tx.QueryRow(ctx, s.q.ClaimPartition, agentID, tid, partition, expectEpoch))
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		epoch, err := s.partitionEpoch(ctx, tx, tid, partition)
		if err != nil {
			return err
		}
		return fmt.Errorf("%w: epoch is %d, expected %d", metastore.ErrFenced, epoch, expectEpoch)
	})
	if err != nil {
		return metastore.Partition{}, s.errorf("claim %s/%d by %q: %w", id.String(), partition, agentID, err)
	}
	return p, nil
}

// Release gives up ownership (see metastore.Ownership).
func (s *Store) Release(ctx context.Context, agentID string, id metastore.TopicID, partition int32, epoch int32) error {
	tid := s.d.TopicID(id)
	err := s.db.Update(ctx, func(tx Tx) error {
		n, err := tx.Exec(ctx, s.q.ReleasePartition, tid, partition, agentID, epoch)
		if err != nil || n == 1 {
			return err
		}
		cur, err := s.partitionEpoch(ctx, tx, tid, partition)
		if err != nil {
			return err
		}
		return fmt.Errorf("%w: not owned by %q at epoch %d (epoch is %d)", metastore.ErrFenced, agentID, epoch, cur)
	})
	if err != nil {
		return s.errorf("release %s/%d by %q: %w", id.String(), partition, agentID, err)
	}
	return nil
}

// partitionEpoch reads a partition's epoch; ErrNotFound if there is no
// such partition.
func (s *Store) partitionEpoch(ctx context.Context, tx Tx, tid any, partition int32) (int32, error) {
	var epoch int32
	err := tx.QueryRow(ctx, s.q.SelectPartitionEpoch, tid, partition).Scan(&epoch)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, metastore.ErrNotFound
	}
	return epoch, err
}

// SetLogStartOffset raises the partition's log start offset to offset and
// returns the new value. It never lowers it (a lower offset returns the
// current one unchanged); an offset above the high watermark is
// ErrConflict, a missing partition ErrNotFound. Index rows wholly below
// the log start are deleted: it is TrimLog without a lease. Where there
// are row locks, the partition's orders it with flushes.
func (s *Store) SetLogStartOffset(ctx context.Context, id metastore.TopicID, partition int32, offset int64) (int64, error) {
	var start int64
	err := s.db.Update(ctx, func(tx Tx) error {
		var err error
		start, _, err = s.trimLog(ctx, tx, nil, id, partition, offset)
		return err
	})
	if err != nil {
		return 0, s.errorf("set log start offset of %s/%d to %d: %w", id.String(), partition, offset, err)
	}
	return start, nil
}

// scanTopic reads a row of topicColumns; no row is metastore.ErrNotFound.
func (s *Store) scanTopic(row Row) (metastore.Topic, error) {
	var (
		t         metastore.Topic
		configs   []byte
		createdAt int64
	)
	err := row.Scan(s.d.ScanTopicID(&t.ID), &t.Name, &t.Partitions, &t.ReplicationFactor, &configs, &createdAt)
	if errors.Is(err, sql.ErrNoRows) {
		return metastore.Topic{}, metastore.ErrNotFound
	}
	if err != nil {
		return metastore.Topic{}, err
	}
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
func (s *Store) scanPartition(row Row) (metastore.Partition, error) {
	var p metastore.Partition
	if err := row.Scan(s.d.ScanTopicID(&p.TopicID), &p.Partition, &p.Owner, &p.Epoch,
		&p.HighWatermark, &p.LogStartOffset); err != nil {
		return metastore.Partition{}, err
	}
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

// newTopicID returns a random version 4 UUID.
func newTopicID() metastore.TopicID {
	var id metastore.TopicID
	rand.Read(id[:])
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}
