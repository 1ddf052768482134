package compaction

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stratalog/strata/metastore"
)

// rows builds index rows from a compact description: "f10" is a flush row
// of 10 bytes, "s40" a segment row of 40 bytes; each covers 10 offsets.
func rows(spec string) []metastore.IndexRow {
	var out []metastore.IndexRow
	var off int64
	for _, w := range strings.Fields(spec) {
		var n int64
		fmt.Sscanf(w[1:], "%d", &n)
		kind := metastore.RowFlush
		if w[0] == 's' {
			kind = metastore.RowSegment
		}
		out = append(out, metastore.IndexRow{BaseOffset: off, LastOffset: off + 9, Size: n, Kind: kind,
			ObjectKey: fmt.Sprintf("obj-%d", off)})
		off += 10
	}
	return out
}

// describe renders jobs as "why:first-last" by row index (offset/10).
func describe(jobs []Job) string {
	var parts []string
	for _, j := range jobs {
		parts = append(parts, fmt.Sprintf("%s:%d-%d", j.Why, j.Inputs[0].BaseOffset/10, j.Inputs[len(j.Inputs)-1].BaseOffset/10))
	}
	return strings.Join(parts, " ")
}

func TestPlan(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	cfg := PlanConfig{TargetBytes: 100, MaxLag: time.Minute, MergeCount: 4}
	fresh, old := now.Add(-time.Second), now.Add(-time.Hour)
	tests := []struct {
		name   string
		rows   string
		oldest time.Time
		want   string
	}{
		{"empty", "", time.Time{}, ""},
		{"young and few flush rows wait", "f10 f10 f10", fresh, ""},
		{"lagged flush rows go however few", "f10 f10 f10", old, "lag:0-2"},
		{"half a segment is enough", "f20 f20 f10", fresh, "full:0-2"},
		{"cut at the target", "f40 f40 f40 f40 f40", fresh, "full:0-1 full:2-3"},
		{"cut at the target, lagged tail too", "f40 f40 f40 f40 f40", old, "full:0-1 full:2-3 lag:4-4"},
		{"a row larger than the target is its own job", "f150 f10", old, "full:0-0 lag:1-1"},
		{"full segments are left alone", "s100 s90 s60", old, ""},
		{"flush rows never merge into a segment", "s10 f10 f10", old, "lag:1-2"},
		{"flush runs split by a full segment", "f10 s80 f10", old, "lag:0-0 lag:2-2"},
		{"three small segments wait", "s10 s10 s10", old, ""},
		{"four small segments merge", "s10 s10 s10 s10", fresh, "merge:0-3"},
		{"a dominant segment waits for the others to grow", "s40 s10 s10 s10", fresh, ""},
		{"then it is merged", "s40 s10 s10 s10 s10", fresh, "merge:0-4"},
		{"skip the dominant one when the rest can merge", "s45 s5 s5 s5 s5", fresh, "merge:1-4"},
		{"merge within the target", "s30 s30 s30 s30 s30", fresh, "merge:0-2 merge:3-4"},
		{"fewer than MergeCount when they make half a segment", "s30 s30 s30 s30", fresh, "merge:0-2"},
		{"two small ones that stay small wait", "s10 s10", fresh, ""},
		{"segments then flush", "s10 s10 s10 s10 f60", fresh, "merge:0-3 full:4-4"},
	}
	// Rows expiring soon are left to retention, but only the leading
	// ones: retention stops at the first row it keeps.
	t.Run("leading rows about to expire are left out", func(t *testing.T) {
		rs := rows("f10 f10 f10 f10 f10")
		for i := range rs {
			rs[i].MaxTimestamp = 100
		}
		rs[0].MaxTimestamp, rs[1].MaxTimestamp, rs[3].MaxTimestamp = 5, 5, 5
		got := describe(Plan(PlanInput{Rows: rs, OldestFlush: old, Now: now, ExpireBefore: 10}, cfg))
		if got != "lag:2-4" {
			t.Errorf("Plan = %q, want lag:2-4 (only the expiring prefix left out)", got)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := PlanInput{Rows: rows(tt.rows), OldestFlush: tt.oldest, Now: now}
			jobs := Plan(in, cfg)
			if got := describe(jobs); got != tt.want {
				t.Errorf("Plan(%q) = %q, want %q", tt.rows, got, tt.want)
			}
			for _, j := range jobs {
				if j.Bytes != sum(j.Inputs) {
					t.Errorf("job %s: Bytes %d, inputs sum to %d", j.Why, j.Bytes, sum(j.Inputs))
				}
				for i := 1; i < len(j.Inputs); i++ {
					if j.Inputs[i].BaseOffset != j.Inputs[i-1].LastOffset+1 {
						t.Errorf("job %s: inputs not contiguous at %d", j.Why, i)
					}
				}
				if len(j.Inputs) > 1 && j.Bytes > cfg.TargetBytes {
					t.Errorf("job %s: %d bytes over the target %d", j.Why, j.Bytes, cfg.TargetBytes)
				}
			}
		})
	}
}
