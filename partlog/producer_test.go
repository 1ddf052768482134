package partlog

import (
	"errors"
	"math"
	"testing"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/record"
)

func TestCheckSequence(t *testing.T) {
	entry := &ProducerEntry{epoch: 3, batches: []metastore.ProducerBatch{
		{FirstSeq: 0, LastSeq: 4, BaseOffset: 10, LastOffset: 14},
		{FirstSeq: 5, LastSeq: 9, BaseOffset: 20, LastOffset: 24},
	}}
	hdr := func(epoch int16, seq, lastDelta int32) record.Header {
		return record.Header{ProducerID: 7, ProducerEpoch: epoch, BaseSequence: seq, LastOffsetDelta: lastDelta}
	}
	for _, tc := range []struct {
		name    string
		e       *ProducerEntry
		h       record.Header
		dupBase int64 // -1: not a duplicate
		err     error
	}{
		{"new producer at 0", nil, hdr(0, 0, 2), -1, nil},
		{"new producer not at 0", nil, hdr(0, 3, 2), -1, ErrOutOfOrder},
		{"next in sequence", entry, hdr(3, 10, 4), -1, nil},
		{"retry of the last batch", entry, hdr(3, 5, 4), 20, nil},
		{"retry of an older batch", entry, hdr(3, 0, 4), 10, nil},
		{"gap", entry, hdr(3, 11, 0), -1, ErrOutOfOrder},
		{"overlap that is no retry", entry, hdr(3, 5, 1), -1, ErrOutOfOrder},
		{"stale epoch", entry, hdr(2, 10, 0), -1, ErrProducerFenced},
		{"new epoch at 0", entry, hdr(4, 0, 0), -1, nil},
		{"new epoch not at 0", entry, hdr(4, 10, 0), -1, ErrOutOfOrder},
		{"wraps at MaxInt32", &ProducerEntry{epoch: 1, batches: []metastore.ProducerBatch{{FirstSeq: math.MaxInt32 - 1, LastSeq: math.MaxInt32}}}, hdr(1, 0, 0), -1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dup, err := checkSequence(tc.e, tc.h)
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			switch {
			case tc.dupBase < 0 && dup != nil:
				t.Fatalf("answered as a duplicate of %+v", *dup)
			case tc.dupBase >= 0 && (dup == nil || dup.BaseOffset != tc.dupBase):
				t.Fatalf("duplicate %+v, want base offset %d", dup, tc.dupBase)
			}
		})
	}
}

// TestRecordProducerBatchWindow: only the last five batches are kept, and
// a new epoch starts a fresh entry.
func TestRecordProducerBatchWindow(t *testing.T) {
	m := map[int64]*ProducerEntry{}
	for i := int32(0); i < 8; i++ {
		RecordProducerBatch(m, record.Header{ProducerID: 1, ProducerEpoch: 0, BaseSequence: i, BaseOffset: int64(i)}, 0)
	}
	if e := m[1]; len(e.batches) != maxProducerBatches || e.batches[0].FirstSeq != 3 {
		t.Fatalf("window %+v, want the last %d batches from sequence 3", e.batches, maxProducerBatches)
	}
	RecordProducerBatch(m, record.Header{ProducerID: 1, ProducerEpoch: 1, BaseSequence: 0}, 0)
	if e := m[1]; e.epoch != 1 || len(e.batches) != 1 {
		t.Fatalf("after an epoch bump: %+v", e)
	}
}
