package compaction

import (
	"math"
	"strconv"
	"strings"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/record"
)

// Cleaning is one topic's key-compaction settings (cleanup.policy
// containing compact), with Kafka's names and defaults.
type Cleaning struct {
	Compact bool
	// DeleteRetentionMs (delete.retention.ms, 1 day): how long a
	// tombstone stays after the pass that first cleaned it.
	DeleteRetentionMs int64
	// MinLagMs (min.compaction.lag.ms, 0): an index row is cleanable only
	// once its newest record is at least this old.
	MinLagMs int64
	// MaxLagMs (max.compaction.lag.ms, unlimited): the dirty part is
	// cleaned, whatever the dirty ratio, once its oldest record is this
	// old.
	MaxLagMs int64
	// MinDirtyRatio (min.cleanable.dirty.ratio, 0.5): a pass starts when
	// the cleanable dirty bytes are more than this share of the clean plus
	// cleanable dirty bytes.
	MinDirtyRatio float64
	// SegmentBytes (segment.bytes, 1 GiB) caps the size of a cleaned
	// segment object (as does Config.TargetSegmentBytes).
	SegmentBytes int64
}

// TopicCleaning reads a topic's key-compaction settings from its configs;
// missing or unparsable values take Kafka's defaults.
func TopicCleaning(configs map[string]string) Cleaning {
	c := Cleaning{
		DeleteRetentionMs: 24 * 3600 * 1000,
		MaxLagMs:          math.MaxInt64,
		MinDirtyRatio:     0.5,
		SegmentBytes:      1 << 30,
	}
	for _, v := range strings.Split(configs["cleanup.policy"], ",") {
		if strings.TrimSpace(v) == "compact" {
			c.Compact = true
		}
	}
	long := func(name string, p *int64) {
		if v, err := strconv.ParseInt(configs[name], 10, 64); err == nil {
			*p = v
		}
	}
	long("delete.retention.ms", &c.DeleteRetentionMs)
	long("min.compaction.lag.ms", &c.MinLagMs)
	long("max.compaction.lag.ms", &c.MaxLagMs)
	long("segment.bytes", &c.SegmentBytes)
	if v, err := strconv.ParseFloat(configs["min.cleanable.dirty.ratio"], 64); err == nil {
		c.MinDirtyRatio = v
	}
	return c
}

// CleanPlan says what a cleaning pass over one partition would do.
type CleanPlan struct {
	// Rows[:Clean] are clean: written by an earlier pass (their objects
	// have clean keys, see CleanKey). Rows[Clean:Cleanable] are dirty and
	// cleanable; rows after Cleanable are too young
	// (min.compaction.lag.ms).
	Clean, Cleanable int
	// CleanBytes and DirtyBytes are the sizes of those two runs.
	CleanBytes, DirtyBytes int64
	// Why is "" when no pass is due, else "dirty-ratio", "max-lag" or
	// "delete-horizon" (only clean rows holding tombstones whose horizon
	// has passed need rewriting).
	Why string
}

// PlanClean decides whether a partition of a compacted topic needs a
// cleaning pass: a pure function of its index rows (in offset order,
// from its log start), the clock (ms) and the topic's settings. Kafka's
// rules, with its segments replaced by index rows: the clean part is the
// leading run of rows a pass wrote; the dirty part after it is cleanable
// up to the first row holding a record younger than min.compaction.lag.ms
// (data is cleanable as soon as it is flushed: there is no active
// segment to wait for); a pass is due when the cleanable dirty bytes make
// more than min.cleanable.dirty.ratio of clean plus cleanable, or when the
// oldest cleanable record is older than max.compaction.lag.ms, or when a
// clean row holds tombstones past their delete horizon.
func PlanClean(rows []metastore.IndexRow, nowMs int64, c Cleaning) CleanPlan {
	var p CleanPlan
	for p.Clean < len(rows) {
		if _, ok := cleanKeyHorizon(rows[p.Clean].ObjectKey); !ok {
			break
		}
		p.CleanBytes += rows[p.Clean].Size
		p.Clean++
	}
	p.Cleanable = p.Clean
	for p.Cleanable < len(rows) && rows[p.Cleanable].MaxTimestamp <= nowMs-c.MinLagMs {
		p.DirtyBytes += rows[p.Cleanable].Size
		p.Cleanable++
	}
	switch {
	case p.Cleanable == p.Clean:
	case float64(p.DirtyBytes) > c.MinDirtyRatio*float64(p.CleanBytes+p.DirtyBytes):
		p.Why = "dirty-ratio"
	case c.MaxLagMs < math.MaxInt64 && rows[p.Clean].MinTimestamp <= nowMs-c.MaxLagMs:
		p.Why = "max-lag"
	}
	if p.Why == "" {
		for _, r := range rows[:p.Clean] {
			if h, _ := cleanKeyHorizon(r.ObjectKey); h > 0 && h <= nowMs {
				p.Why = "delete-horizon"
				break
			}
		}
	}
	return p
}

// cleaned is what cleanBatch kept of one batch.
type cleaned struct {
	// batch is the batch to write: the input itself when it keeps every
	// record and needs no new delete horizon, a rebuilt batch, an empty
	// one, or nil when the whole batch goes.
	batch []byte
	// minTs is the smallest timestamp of what was kept.
	minTs int64
	// horizon is the batch's delete horizon if it still holds tombstones
	// (0 if none): when its rows need a pass again.
	horizon int64
	// dropped counts the records removed.
	dropped int
}

// cleanBatch applies Kafka's cleaner rules to one batch b (h its
// header), as of nowMs:
//
//   - records at offsets past mapEnd (not scanned into the offset map)
//     are kept, whatever they are;
//   - a record without a key is removed (a compacted topic refuses them;
//     they are left from before the topic was compacted);
//   - a record is removed when latest(key) (the offset of the key's newest
//     record seen, -1 if none) is after it;
//   - a tombstone (null value) is removed once the batch's delete horizon
//     has passed; a batch that keeps tombstones and has no horizon yet
//     gets one, nowMs + deleteRetentionMs (KIP-534: the horizon replaces
//     FirstTimestamp and the records' timestamp deltas are rebased on it);
//   - control batches (transaction markers) are kept as they are;
//   - a batch that loses every record is dropped, unless retainEmpty
//     (the last batch of its producer, or of its index row): then it is
//     kept with no records, its offsets, producer fields and max
//     timestamp as they were.
//
// A kept batch keeps its base offset, last offset delta, producer fields,
// leader epoch and codec; one that loses nothing and needs no horizon is
// kept byte for byte. The decision is made on a scan that decodes no
// headers and allocates nothing per record; only a batch that changes is
// decoded whole and rebuilt.
func cleanBatch(b []byte, h record.Header, latest func([]byte) int64, mapEnd, nowMs, deleteRetentionMs int64, retainEmpty bool) (cleaned, error) {
	out := cleaned{batch: b, minTs: math.MaxInt64}
	if h.Control() {
		out.minTs = h.MaxTimestamp
		return out, nil
	}
	horizon, hasHorizon := h.DeleteHorizon()
	retainDeletes := !hasHorizon || nowMs < horizon
	var drop []bool // by record index, once the first record is dropped
	n, tombstones := 0, false
	err := record.EachRecord(b, maxCleanBatch, func(od int32, tsDelta int64, key, value []byte) error {
		off := h.BaseOffset + int64(od)
		keep := true
		if off <= mapEnd {
			switch {
			case key == nil:
				keep = false
			case latest(key) > off:
				keep = false
			case value == nil && !retainDeletes:
				keep = false
			}
		}
		if !keep && drop == nil {
			drop = make([]bool, h.NumRecords)
		}
		if keep {
			tombstones = tombstones || value == nil
			out.minTs = min(out.minTs, h.FirstTimestamp+tsDelta)
		} else {
			drop[n] = true
			out.dropped++
		}
		n++
		return nil
	})
	if err != nil {
		return out, err
	}
	if h.LogAppendTime() || out.minTs == math.MaxInt64 {
		out.minTs = h.MaxTimestamp
	}
	kept := n - out.dropped
	setHorizon := tombstones && !hasHorizon
	if tombstones {
		out.horizon = horizon
		if setHorizon {
			out.horizon = nowMs + deleteRetentionMs
		}
	}
	switch {
	case out.dropped == 0 && !setHorizon:
		return out, nil
	case kept == 0 && !retainEmpty:
		out.batch = nil
		return out, nil
	case kept == 0:
		eh := h.WithoutDeleteHorizon()
		eh.FirstTimestamp = h.MaxTimestamp
		eb, err := record.Build(eh, nil, record.CodecNone)
		out.batch = eb
		return out, err
	}
	recs, err := record.Records(b, maxCleanBatch)
	if err != nil {
		return out, err
	}
	keptRecs := recs[:0]
	for i, r := range recs {
		if drop == nil || !drop[i] {
			keptRecs = append(keptRecs, r)
		}
	}
	nh := h
	if setHorizon {
		nh = h.WithDeleteHorizon(out.horizon)
		shift := h.FirstTimestamp - nh.FirstTimestamp
		for i := range keptRecs {
			keptRecs[i].TimestampDelta += shift
		}
	}
	nb, err := record.Build(nh, keptRecs, h.Codec())
	if err != nil {
		return out, err
	}
	out.batch = nb
	return out, nil
}
