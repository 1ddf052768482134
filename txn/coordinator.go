// Package txn is the transaction coordinator: Kafka transactions across
// agents, with every transactional id's state in the metastore.
//
// A transactional id's row (metastore.Txn) is the whole record; every
// change is a compare-and-swap on its version, so whichever agent makes a
// change — the id's coordinator (placed by rendezvous hashing like group
// coordinators), or a partition owner verifying a produce — two changes
// can never both land on one version. Ending a transaction records the
// decision, one pending marker per partition and the fate of its pending
// offsets in one metastore transaction (EndTxn); the owners of the
// partitions write the markers into their logs (MarkerWriter) and the
// flush that commits a marker deletes its pending row, so each marker is
// written exactly once whichever agent owns the partition, and a new owner
// finds what its predecessor left. The transaction completes when no
// marker is left; until then the id answers CONCURRENT_TRANSACTIONS.
package txn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/stratalog/strata/metastore"
)

// Errors, each one Kafka error code (the request layer maps them).
var (
	ErrInvalidTimeout = errors.New("txn: transaction timeout out of range")
	ErrConcurrent     = errors.New("txn: a transaction of this id is completing")
	ErrFenced         = errors.New("txn: producer epoch fenced")
	ErrInvalidMapping = errors.New("txn: producer id does not match the transactional id")
	ErrInvalidState   = errors.New("txn: invalid transaction state")
	ErrUnknownTopic   = errors.New("txn: unknown topic or partition")
	ErrStore          = errors.New("txn: metastore unavailable")
	ErrInvalidRequest = errors.New("txn: invalid request")
)

// Store is what the coordinator needs of the metastore.
type Store interface {
	metastore.Transactions
	NextProducerID(ctx context.Context) (int64, error)
}

// Config configures a Coordinator.
type Config struct {
	Store Store
	// MaxTimeout bounds transaction.timeout.ms (Kafka's
	// transaction.max.timeout.ms).
	MaxTimeout time.Duration
	// Resolve returns a partition's topic ID, false if the topic or the
	// partition does not exist.
	Resolve func(topic string, partition int32) (metastore.TopicID, bool)
	// Kick is called once markers are recorded, so this agent's
	// MarkerWriter looks at once.
	Kick   func()
	Logger *slog.Logger
	Now    func() time.Time
}

// Coordinator runs the transaction state machine. It keeps no state of
// its own: the metastore row is read for every request.
type Coordinator struct {
	cfg Config
	log *slog.Logger
}

// New returns a Coordinator.
func New(cfg Config) *Coordinator {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Kick == nil {
		cfg.Kick = func() {}
	}
	if cfg.MaxTimeout <= 0 {
		cfg.MaxTimeout = 15 * time.Minute
	}
	return &Coordinator{cfg: cfg, log: cfg.Logger}
}

// casAttempts bounds the compare-and-swap retries of one request.
const casAttempts = 16

func storeErr(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrStore, err)
}

// load reads id's row, completing a finished Prepare state on the way.
func (c *Coordinator) load(ctx context.Context, id string) (metastore.Txn, error) {
	t, err := c.cfg.Store.Txn(ctx, id)
	if err != nil {
		return t, err
	}
	if t.State != metastore.TxnPrepareCommit && t.State != metastore.TxnPrepareAbort {
		return t, nil
	}
	left, err := c.cfg.Store.TxnMarkersLeft(ctx, id)
	if err != nil || left > 0 {
		return t, err
	}
	prev := t.Version
	done := t
	done.State = metastore.TxnCompleteAbort
	if t.State == metastore.TxnPrepareCommit {
		done.State = metastore.TxnCompleteCommit
	}
	done.Partitions, done.Groups, done.StartTime, done.UpdateTime = nil, nil, time.Time{}, c.cfg.Now()
	done, err = c.cfg.Store.PutTxn(ctx, done, prev)
	if errors.Is(err, metastore.ErrConflict) {
		return c.cfg.Store.Txn(ctx, id)
	}
	return done, err
}

// bump returns t with its epoch raised by one, or a new producer id at
// epoch 0 when the epoch would run out, remembering the old pair.
func (c *Coordinator) bump(ctx context.Context, t metastore.Txn) (metastore.Txn, error) {
	t.LastProducerID, t.LastProducerEpoch = t.ProducerID, t.ProducerEpoch
	if t.ProducerEpoch >= math.MaxInt16-1 {
		pid, err := c.cfg.Store.NextProducerID(ctx)
		if err != nil {
			return t, storeErr(err)
		}
		t.ProducerID, t.ProducerEpoch = pid, 0
		return t, nil
	}
	t.ProducerEpoch++
	return t, nil
}

// InitProducerID answers InitProducerId for a transactional id: a new
// producer id for a new transactional id; otherwise the id's producer id
// with the epoch bumped (fencing every older producer of the id), after
// aborting an ongoing transaction (then ErrConcurrent: the client
// retries). expectPID/expectEpoch (-1 when absent, KIP-360) must be the
// id's current or previous pair.
func (c *Coordinator) InitProducerID(ctx context.Context, id string, timeoutMs int32, expectPID int64, expectEpoch int16) (int64, int16, error) {
	if id == "" {
		return -1, -1, fmt.Errorf("%w: empty transactional id", ErrInvalidRequest)
	}
	if timeoutMs <= 0 || time.Duration(timeoutMs)*time.Millisecond > c.cfg.MaxTimeout {
		return -1, -1, fmt.Errorf("%w: %d ms (max %d ms)", ErrInvalidTimeout, timeoutMs, c.cfg.MaxTimeout.Milliseconds())
	}
	for range casAttempts {
		t, err := c.load(ctx, id)
		if errors.Is(err, metastore.ErrNotFound) {
			if expectPID >= 0 {
				return -1, -1, fmt.Errorf("%w: %q has no producer id %d", ErrInvalidMapping, id, expectPID)
			}
			pid, err := c.cfg.Store.NextProducerID(ctx)
			if err != nil {
				return -1, -1, storeErr(err)
			}
			nt := metastore.Txn{ID: id, ProducerID: pid, LastProducerID: -1, LastProducerEpoch: -1,
				State: metastore.TxnEmpty, TimeoutMs: timeoutMs, UpdateTime: c.cfg.Now(), CoordinatorEpoch: 0}
			if _, err := c.cfg.Store.PutTxn(ctx, nt, 0); errors.Is(err, metastore.ErrConflict) {
				continue
			} else if err != nil {
				return -1, -1, storeErr(err)
			}
			return pid, 0, nil
		}
		if err != nil {
			return -1, -1, storeErr(err)
		}
		if expectPID >= 0 {
			current := expectPID == t.ProducerID && expectEpoch == t.ProducerEpoch
			previous := expectPID == t.LastProducerID && expectEpoch == t.LastProducerEpoch
			if !current && !previous {
				return -1, -1, fmt.Errorf("%w: %q is at producer %d epoch %d, not %d/%d", ErrFenced, id,
					t.ProducerID, t.ProducerEpoch, expectPID, expectEpoch)
			}
		}
		switch t.State {
		case metastore.TxnPrepareCommit, metastore.TxnPrepareAbort:
			c.cfg.Kick()
			return -1, -1, ErrConcurrent
		case metastore.TxnOngoing:
			// Fence the old producer and abort its transaction first. A
			// producer recovering its own pair (KIP-360) may retry with
			// it; a new instance fences the old one for good.
			keep := expectPID >= 0
			if err := c.abort(ctx, t, keep); errors.Is(err, metastore.ErrConflict) {
				continue
			} else if err != nil {
				return -1, -1, err
			}
			return -1, -1, ErrConcurrent
		}
		prev := t.Version
		nt, err := c.bump(ctx, t)
		if err != nil {
			return -1, -1, err
		}
		nt.State, nt.TimeoutMs, nt.Partitions, nt.Groups, nt.StartTime = metastore.TxnEmpty, timeoutMs, nil, nil, time.Time{}
		nt.UpdateTime = c.cfg.Now()
		if _, err := c.cfg.Store.PutTxn(ctx, nt, prev); errors.Is(err, metastore.ErrConflict) {
			continue
		} else if err != nil {
			return -1, -1, storeErr(err)
		}
		return nt.ProducerID, nt.ProducerEpoch, nil
	}
	return -1, -1, ErrConcurrent
}

// check loads id's row and checks the producer's pair against it.
func (c *Coordinator) check(ctx context.Context, id string, pid int64, epoch int16) (metastore.Txn, error) {
	t, err := c.load(ctx, id)
	if errors.Is(err, metastore.ErrNotFound) {
		return t, fmt.Errorf("%w: unknown transactional id %q", ErrInvalidMapping, id)
	}
	if err != nil {
		return t, storeErr(err)
	}
	if t.ProducerID != pid {
		return t, fmt.Errorf("%w: %q has producer id %d, not %d", ErrInvalidMapping, id, t.ProducerID, pid)
	}
	if t.ProducerEpoch != epoch {
		return t, fmt.Errorf("%w: %q is at epoch %d, not %d", ErrFenced, id, t.ProducerEpoch, epoch)
	}
	return t, nil
}

// begin makes t Ongoing if no transaction is open; ErrConcurrent while
// the last one completes.
func (c *Coordinator) begin(t *metastore.Txn) error {
	switch t.State {
	case metastore.TxnOngoing:
		return nil
	case metastore.TxnPrepareCommit, metastore.TxnPrepareAbort:
		c.cfg.Kick()
		return ErrConcurrent
	}
	t.State, t.StartTime, t.Partitions, t.Groups = metastore.TxnOngoing, c.cfg.Now(), nil, nil
	return nil
}

// AddPartitions adds partitions to the producer's transaction, starting
// it if none is open. Unknown partitions fail the whole request
// (ErrUnknownTopic) and nothing is added.
func (c *Coordinator) AddPartitions(ctx context.Context, id string, pid int64, epoch int16, parts []metastore.TxnPartition) error {
	for _, p := range parts {
		if _, ok := c.cfg.Resolve(p.Topic, p.Partition); !ok {
			return fmt.Errorf("%w: %s/%d", ErrUnknownTopic, p.Topic, p.Partition)
		}
	}
	return c.update(ctx, id, pid, epoch, func(t *metastore.Txn) (bool, error) {
		if err := c.begin(t); err != nil {
			return false, err
		}
		changed := false
		for _, p := range parts {
			if !slices.Contains(t.Partitions, p) {
				t.Partitions = append(t.Partitions, p)
				changed = true
			}
		}
		return changed || t.Version == 0, nil
	})
}

// Verify checks that the producer's transaction is open and holds the
// partition (a produce of a transactional batch to a partition with no
// open transaction of the producer); with add, it adds the partition
// instead (Produce v12, KIP-890 part 2).
func (c *Coordinator) Verify(ctx context.Context, id string, pid int64, epoch int16, topic string, partition int32, add bool) error {
	p := metastore.TxnPartition{Topic: topic, Partition: partition}
	if add {
		return c.AddPartitions(ctx, id, pid, epoch, []metastore.TxnPartition{p})
	}
	t, err := c.check(ctx, id, pid, epoch)
	if err != nil {
		return err
	}
	if t.State != metastore.TxnOngoing || !slices.Contains(t.Partitions, p) {
		return fmt.Errorf("%w: %s/%d is not in the ongoing transaction of %q", ErrInvalidState, topic, partition, id)
	}
	return nil
}

// AddOffsets adds a consumer group to the producer's transaction.
func (c *Coordinator) AddOffsets(ctx context.Context, id string, pid int64, epoch int16, group string) error {
	if group == "" {
		return fmt.Errorf("%w: empty group id", ErrInvalidRequest)
	}
	return c.update(ctx, id, pid, epoch, func(t *metastore.Txn) (bool, error) {
		if err := c.begin(t); err != nil {
			return false, err
		}
		if slices.Contains(t.Groups, group) {
			return t.State != metastore.TxnOngoing, nil
		}
		t.Groups = append(t.Groups, group)
		return true, nil
	})
}

// update applies fn to the producer's row and stores it if fn says so,
// retrying on conflicts.
func (c *Coordinator) update(ctx context.Context, id string, pid int64, epoch int16, fn func(t *metastore.Txn) (bool, error)) error {
	for range casAttempts {
		t, err := c.check(ctx, id, pid, epoch)
		if err != nil {
			return err
		}
		prev, state := t.Version, t.State
		changed, err := fn(&t)
		if err != nil {
			return err
		}
		if !changed && state == t.State {
			return nil
		}
		t.UpdateTime = c.cfg.Now()
		if _, err := c.cfg.Store.PutTxn(ctx, t, prev); errors.Is(err, metastore.ErrConflict) {
			continue
		} else if err != nil {
			return storeErr(err)
		}
		return nil
	}
	return ErrConcurrent
}

// TxnOffsets stores offsets of the producer's transaction for group
// (TxnOffsetCommit, after the group checked the member). With implicit
// (TxnOffsetCommit v5, KIP-890 part 2) the group joins the transaction,
// and the transaction starts, if needed; otherwise the group must have
// been added.
func (c *Coordinator) TxnOffsets(ctx context.Context, id string, pid int64, epoch int16, group string, offsets []metastore.GroupOffset, implicit bool) error {
	for range casAttempts {
		t, err := c.check(ctx, id, pid, epoch)
		if err != nil {
			return err
		}
		if t.State != metastore.TxnOngoing || !slices.Contains(t.Groups, group) {
			if !implicit {
				return fmt.Errorf("%w: group %q is not in the ongoing transaction of %q", ErrInvalidState, group, id)
			}
			if err := c.AddOffsets(ctx, id, pid, epoch, group); err != nil {
				return err
			}
			continue
		}
		err = c.cfg.Store.AddTxnOffsets(ctx, id, t.Version, group, offsets)
		if errors.Is(err, metastore.ErrConflict) {
			continue
		}
		if err != nil {
			return storeErr(err)
		}
		return nil
	}
	return ErrConcurrent
}

// EndTxn commits or aborts the producer's transaction: the decision, its
// markers and its offsets' fate are recorded at once, and the answer does
// not wait for the markers (the next transaction does). With bumpEpoch
// (EndTxn v5, KIP-890) the epoch is raised and the markers carry the new
// one; the new pair is returned. A retry of an EndTxn that already took
// effect gets the same answer.
func (c *Coordinator) EndTxn(ctx context.Context, id string, pid int64, epoch int16, commit, bumpEpoch bool) (int64, int16, error) {
	for range casAttempts {
		t, err := c.load(ctx, id)
		if errors.Is(err, metastore.ErrNotFound) {
			return -1, -1, fmt.Errorf("%w: unknown transactional id %q", ErrInvalidMapping, id)
		}
		if err != nil {
			return -1, -1, storeErr(err)
		}
		ended := t.State != metastore.TxnOngoing && t.State != metastore.TxnEmpty
		if bumpEpoch && ended && t.LastProducerID == pid && t.LastProducerEpoch == epoch {
			// A retry of the EndTxn that bumped to the current pair (or
			// an abort the coordinator did first, on a timeout).
			if commit != t.LastCommit {
				return -1, -1, fmt.Errorf("%w: the transaction was already %s", ErrFenced, outcome(t.LastCommit))
			}
			return t.ProducerID, t.ProducerEpoch, nil
		}
		if t.ProducerID != pid {
			return -1, -1, fmt.Errorf("%w: %q has producer id %d, not %d", ErrInvalidMapping, id, t.ProducerID, pid)
		}
		if t.ProducerEpoch != epoch {
			return -1, -1, fmt.Errorf("%w: %q is at epoch %d, not %d", ErrFenced, id, t.ProducerEpoch, epoch)
		}
		switch t.State {
		case metastore.TxnPrepareCommit, metastore.TxnPrepareAbort:
			// The last transaction is completing: a retry of its EndTxn,
			// or (v5, the epoch already bumped) the end of a new, empty
			// one; either waits.
			if bumpEpoch || commit == t.LastCommit {
				c.cfg.Kick()
				return -1, -1, ErrConcurrent
			}
			return -1, -1, fmt.Errorf("%w: the transaction was already %s", ErrInvalidState, outcome(t.LastCommit))
		case metastore.TxnEmpty, metastore.TxnCompleteCommit, metastore.TxnCompleteAbort:
			if bumpEpoch {
				// Ending a transaction that added nothing (KIP-890): no
				// markers, a fresh epoch all the same.
				prev := t.Version
				nt, err := c.bump(ctx, t)
				if err != nil {
					return -1, -1, err
				}
				nt.LastCommit, nt.UpdateTime = commit, c.cfg.Now()
				if _, err := c.cfg.Store.PutTxn(ctx, nt, prev); errors.Is(err, metastore.ErrConflict) {
					continue
				} else if err != nil {
					return -1, -1, storeErr(err)
				}
				return nt.ProducerID, nt.ProducerEpoch, nil
			}
			if t.State != metastore.TxnEmpty && commit == t.LastCommit {
				return t.ProducerID, t.ProducerEpoch, nil // a retry
			}
			return -1, -1, fmt.Errorf("%w: %q has no ongoing transaction", ErrInvalidState, id)
		}
		prev := t.Version
		nt := t
		if bumpEpoch {
			if nt, err = c.bump(ctx, t); err != nil {
				return -1, -1, err
			}
		}
		if err := c.end(ctx, nt, prev, commit); errors.Is(err, metastore.ErrConflict) {
			continue
		} else if err != nil {
			return -1, -1, err
		}
		return nt.ProducerID, nt.ProducerEpoch, nil
	}
	return -1, -1, ErrConcurrent
}

func outcome(commit bool) string {
	if commit {
		return "committed"
	}
	return "aborted"
}

// abort aborts t's ongoing transaction with the epoch bumped, fencing
// the producer that holds the old pair. With keepLast that producer may
// still recover with InitProducerId naming its pair (KIP-360: a timeout,
// or its own recovery); without, it is fenced for good (a new instance of
// the transactional id).
func (c *Coordinator) abort(ctx context.Context, t metastore.Txn, keepLast bool) error {
	prev := t.Version
	t, err := c.bump(ctx, t)
	if err != nil {
		return err
	}
	if !keepLast {
		t.LastProducerID, t.LastProducerEpoch = -1, -1
	}
	return c.end(ctx, t, prev, false)
}

// end records the end of t's transaction (t holds the pair the markers
// carry) with its markers, at version prev.
func (c *Coordinator) end(ctx context.Context, t metastore.Txn, prev int64, commit bool) error {
	t.State, t.LastCommit = metastore.TxnPrepareAbort, commit
	if commit {
		t.State = metastore.TxnPrepareCommit
	}
	t.CoordinatorEpoch++
	t.UpdateTime = c.cfg.Now()
	var markers []metastore.TxnMarker
	for _, p := range t.Partitions {
		tid, ok := c.cfg.Resolve(p.Topic, p.Partition)
		if !ok {
			continue // deleted since: nothing to mark
		}
		markers = append(markers, metastore.TxnMarker{TopicID: tid, Partition: p.Partition, ProducerID: t.ProducerID,
			ProducerEpoch: t.ProducerEpoch, Commit: commit, CoordinatorEpoch: t.CoordinatorEpoch, TransactionalID: t.ID})
	}
	if _, err := c.cfg.Store.EndTxn(ctx, t, prev, markers); err != nil {
		if errors.Is(err, metastore.ErrConflict) {
			return err
		}
		return storeErr(err)
	}
	c.log.Debug("transaction ended", "transactional_id", t.ID, "producer_id", t.ProducerID, "commit", commit,
		"partitions", len(markers), "coordinator_epoch", t.CoordinatorEpoch)
	c.cfg.Kick()
	return nil
}

// Describe returns a transactional id's state.
func (c *Coordinator) Describe(ctx context.Context, id string) (metastore.Txn, error) {
	t, err := c.load(ctx, id)
	if err != nil && !errors.Is(err, metastore.ErrNotFound) {
		return t, storeErr(err)
	}
	return t, err
}

// List returns every transactional id's state for which coordinates says
// this agent coordinates it.
func (c *Coordinator) List(ctx context.Context, coordinates func(id string) bool) ([]metastore.Txn, error) {
	all, err := c.cfg.Store.Txns(ctx)
	if err != nil {
		return nil, storeErr(err)
	}
	out := all[:0]
	for _, t := range all {
		if coordinates(t.ID) {
			out = append(out, t)
		}
	}
	return out, nil
}

// Tick aborts the expired transactions this agent coordinates (bumping
// their epoch: the producer is fenced, as in Kafka) and completes those
// whose markers are all written.
func (c *Coordinator) Tick(ctx context.Context, coordinates func(id string) bool) error {
	all, err := c.cfg.Store.Txns(ctx)
	if err != nil {
		return storeErr(err)
	}
	now := c.cfg.Now()
	for _, t := range all {
		if !coordinates(t.ID) {
			continue
		}
		switch t.State {
		case metastore.TxnPrepareCommit, metastore.TxnPrepareAbort:
			if _, err := c.load(ctx, t.ID); err != nil {
				c.log.Warn("complete transaction", "transactional_id", t.ID, "err", err)
			}
		case metastore.TxnOngoing:
			if now.Sub(t.StartTime) <= time.Duration(t.TimeoutMs)*time.Millisecond {
				continue
			}
			c.log.Info("aborting a transaction past its timeout", "transactional_id", t.ID, "producer_id", t.ProducerID,
				"epoch", t.ProducerEpoch, "timeout_ms", t.TimeoutMs)
			if err := c.abort(ctx, t, true); err != nil && !errors.Is(err, metastore.ErrConflict) {
				c.log.Warn("abort expired transaction", "transactional_id", t.ID, "err", err)
			}
		}
	}
	return nil
}
