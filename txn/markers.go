package txn

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/partlog"
	"github.com/stratalog/strata/record"
)

// MarkerStore is what a MarkerWriter needs of the metastore.
type MarkerStore interface {
	OwnedTxnMarkers(ctx context.Context, agentID string) ([]metastore.TxnMarker, error)
}

// MarkerWriter writes the pending transaction markers of the partitions
// this agent owns into their logs. It looks whenever kicked (this agent
// ended a transaction, or claimed partitions) and every Interval (another
// agent did). A marker appended but not yet committed is not appended
// again (the partition's producer state remembers the coordinator epoch
// of its last marker); if the partition moves before the commit, the new
// owner finds the pending row and writes it.
type MarkerWriter struct {
	AgentID   string
	Store     MarkerStore
	Registry  *partlog.Registry
	Interval  time.Duration
	Logger    *slog.Logger
	kick      chan struct{}
	stop, end chan struct{}
}

// NewMarkerWriter returns a MarkerWriter; Start runs it.
func NewMarkerWriter(agentID string, store MarkerStore, reg *partlog.Registry, interval time.Duration, log *slog.Logger) *MarkerWriter {
	if interval <= 0 {
		interval = 50 * time.Millisecond
	}
	return &MarkerWriter{AgentID: agentID, Store: store, Registry: reg, Interval: interval, Logger: log,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), end: make(chan struct{})}
}

// Kick makes the writer look at once.
func (w *MarkerWriter) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Start runs the writer until Stop.
func (w *MarkerWriter) Start(ctx context.Context) {
	go func() {
		defer close(w.end)
		t := time.NewTicker(w.Interval)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-ctx.Done():
				return
			case <-w.kick:
			case <-t.C:
			}
			if err := w.Once(ctx); err != nil && ctx.Err() == nil {
				w.Logger.Warn("write transaction markers", "err", err)
			}
		}
	}()
}

// Stop ends the loop and waits for it.
func (w *MarkerWriter) Stop() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.end
}

// Once appends every pending marker of the partitions owned here and
// returns how many it appended.
func (w *MarkerWriter) Once(ctx context.Context) error {
	ms, err := w.Store.OwnedTxnMarkers(ctx, w.AgentID)
	if err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	for _, m := range ms {
		p := w.Registry.Partition(m.TopicID, m.Partition)
		if p == nil {
			continue
		}
		_, _, err := p.AppendMarker(record.Marker{ProducerID: m.ProducerID, ProducerEpoch: m.ProducerEpoch,
			Commit: m.Commit, CoordinatorEpoch: m.CoordinatorEpoch}, now)
		if err != nil && !errors.Is(err, partlog.ErrNotOwner) {
			w.Logger.Warn("append transaction marker", "topic", p.Topic().Name(), "partition", m.Partition,
				"transactional_id", m.TransactionalID, "err", err)
		}
	}
	return nil
}
