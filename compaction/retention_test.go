package compaction

import (
	"testing"

	"github.com/stratalog/strata/metastore"
)

func TestTopicRetention(t *testing.T) {
	def := Retention{Ms: 1000, Bytes: -1}
	tests := []struct {
		configs map[string]string
		want    Retention
		deletes bool
	}{
		{nil, def, true},
		{map[string]string{"retention.ms": "-1"}, Retention{Ms: -1, Bytes: -1}, true},
		{map[string]string{"retention.bytes": "4096", "retention.ms": "60000"}, Retention{Ms: 60000, Bytes: 4096}, true},
		{map[string]string{"cleanup.policy": "compact"}, def, false},
		{map[string]string{"cleanup.policy": "compact,delete"}, def, true},
		{map[string]string{"cleanup.policy": "delete"}, def, true},
	}
	for _, tt := range tests {
		got, deletes := TopicRetention(tt.configs, def)
		if got != tt.want || deletes != tt.deletes {
			t.Errorf("TopicRetention(%v) = %+v, %v; want %+v, %v", tt.configs, got, deletes, tt.want, tt.deletes)
		}
	}
}

func TestRetentionStart(t *testing.T) {
	// Rows of 10 offsets and 100 bytes each: [0,9] [10,19] [20,29] [30,39].
	var rs []metastore.IndexRow
	for i := int64(0); i < 4; i++ {
		rs = append(rs, metastore.IndexRow{BaseOffset: 10 * i, LastOffset: 10*i + 9, Size: 100})
	}
	row := func(i int) *metastore.IndexRow { return &rs[i] }
	const hwm = 40
	tests := []struct {
		name     string
		r        Retention
		logStart int64
		byTime   *metastore.IndexRow
		want     int64
	}{
		{"no limits", Retention{-1, -1}, 0, nil, 0},
		{"time: nothing expired", Retention{1, -1}, 0, row(0), 0},
		{"time: first rows expired", Retention{1, -1}, 0, row(2), 20},
		{"time: everything expired", Retention{1, -1}, 0, nil, hwm},
		{"time: never below the log start", Retention{1, -1}, 25, row(2), 25},
		{"size: within the limit", Retention{-1, 400}, 0, nil, 0},
		{"size: one row over", Retention{-1, 300}, 0, nil, 10},
		{"size: keeps at least the limit", Retention{-1, 250}, 0, nil, 10},
		{"size: zero keeps nothing", Retention{-1, 0}, 0, nil, hwm},
		{"both: the further wins", Retention{1, 300}, 0, row(2), 20},
		{"both: size further", Retention{1, 100}, 0, row(1), 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RetentionStart(tt.r, tt.logStart, hwm, rs, tt.byTime); got != tt.want {
				t.Errorf("RetentionStart = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestOwnKey(t *testing.T) {
	ref := metastore.PartitionRef{Partition: 3}
	ref.TopicID[0] = 7
	for key, want := range map[string]bool{
		SegmentKey(ref, 0, 99): true,
		"1a2b/seg/agent-1/20261203T101010.000Z-0000000000000001.seg": true,
		"probe/agent-1":              false,
		"1a2b/other/x.seg":           false,
		"zzzz/seg/a/b.seg":           false,
		"1a2b/seg/agent-1/notes.txt": false,
		"analytics/1a2b/seg/a/b.seg": false,
	} {
		if got := ownKey(key); got != want {
			t.Errorf("ownKey(%q) = %v, want %v", key, got, want)
		}
	}
	if a, b := SegmentKey(ref, 0, 99), SegmentKey(ref, 0, 99); a == b {
		t.Errorf("two SegmentKeys for one range are equal: %s", a)
	}
}
