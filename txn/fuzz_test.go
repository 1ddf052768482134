package txn_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/txn"
)

// FuzzCoordinator drives the coordinator with arbitrary sequences of
// requests (two transactional ids, stale and current producer pairs,
// every end variant, markers retired, the clock moved): no panic, only
// the coordinator's own errors, and a transactional id's producer id and
// epoch never go back.
func FuzzCoordinator(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7})
	f.Add([]byte{0, 1, 16, 3, 35, 2, 0, 64, 4, 3})
	f.Add([]byte{0, 1, 0, 3, 7, 3, 0, 5, 1, 3})
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, ops []byte) {
		e.t = t
		ctx := context.Background()
		ids := []string{"a", "b"}
		type pair struct {
			pid   int64
			epoch int16
		}
		held := map[string]pair{} // the last pair each id's producer was given
		seen := map[string]pair{} // the highest pair stored
		known := []error{txn.ErrInvalidTimeout, txn.ErrConcurrent, txn.ErrFenced, txn.ErrInvalidMapping,
			txn.ErrInvalidState, txn.ErrUnknownTopic, txn.ErrInvalidRequest}
		check := func(err error) {
			if err == nil {
				return
			}
			for _, k := range known {
				if errors.Is(err, k) {
					return
				}
			}
			t.Fatalf("unexpected error: %v", err)
		}
		if len(ops) > 64 {
			ops = ops[:64]
		}
		for _, op := range ops {
			id := ids[op>>7]
			p := held[id]
			if op&0x40 != 0 { // a stale pair
				p.epoch--
			}
			switch op & 0x0f {
			case 0, 1:
				pid, ep, err := e.c.InitProducerID(ctx, id+fuzzRun, 10000, -1, -1)
				check(err)
				if err == nil {
					held[id] = pair{pid, ep}
				}
			case 2:
				pid, ep, err := e.c.InitProducerID(ctx, id+fuzzRun, 10000, p.pid, p.epoch)
				check(err)
				if err == nil {
					held[id] = pair{pid, ep}
				}
			case 3, 4:
				check(e.c.AddPartitions(ctx, id+fuzzRun, p.pid, p.epoch, both[:1+int(op&1)]))
			case 5:
				check(e.c.AddOffsets(ctx, id+fuzzRun, p.pid, p.epoch, "g"))
			case 6, 7, 8, 9:
				pid, ep, err := e.c.EndTxn(ctx, id+fuzzRun, p.pid, p.epoch, op&1 == 0, op&2 != 0)
				check(err)
				if err == nil && op&2 != 0 {
					held[id] = pair{pid, ep}
				}
			case 10:
				check(e.c.Verify(ctx, id+fuzzRun, p.pid, p.epoch, "t", int32(op>>4&1), op&0x20 != 0))
			case 11:
				e.retire()
			case 12:
				e.now = e.now.Add(time.Duration(op>>4&3) * 5 * time.Second)
				check(e.c.Tick(ctx, func(string) bool { return true }))
			default:
				err := e.c.TxnOffsets(ctx, id+fuzzRun, p.pid, p.epoch, "g",
					[]metastore.GroupOffset{{Topic: "t", Partition: 0, Offset: int64(op), LeaderEpoch: -1}}, op&0x20 != 0)
				check(err)
			}
			for _, id := range ids {
				st, err := e.store.Txn(ctx, id+fuzzRun)
				if errors.Is(err, metastore.ErrNotFound) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				cur := pair{st.ProducerID, st.ProducerEpoch}
				if old, ok := seen[id]; ok && old.pid == cur.pid && cur.epoch < old.epoch {
					t.Fatalf("%s: epoch went back from %d to %d", id, old.epoch, cur.epoch)
				}
				seen[id] = cur
			}
		}
		fuzzSeq++
		fuzzRun = "-" + string(rune('a'+fuzzSeq%26)) + string(rune('a'+fuzzSeq/26%26)) + string(rune('a'+fuzzSeq/676%26))
	})
}

// Each fuzz input uses fresh transactional ids on the shared store.
var (
	fuzzSeq int
	fuzzRun = "-0"
)
