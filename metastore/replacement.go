package metastore

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Normalize checks what a Store can check of a compaction switch without
// its database and fills in defaults: inputs' and rows' zero topic and
// partition become the lease's, rows' empty ObjectKey becomes Output.Key,
// an empty Output.Kind becomes ObjectSegment; inputs and rows are sorted
// by offset. It copies Inputs and Rows first: they belong to the caller.
//
// Rows must not overlap, must all point into Output, and must span
// exactly the inputs' offsets: the first starts at the first input's
// BaseOffset and the last ends at the last input's LastOffset. Gaps
// between rows are allowed (compaction may drop whole batches). Their
// sizes may not sum to more than Output.Size.
func (r *Replacement) Normalize() error {
	if r.Lease.Holder == "" {
		return fmt.Errorf("%w: empty lease holder", ErrFenced)
	}
	if r.Lease.TopicID.IsZero() {
		return errors.New("lease names no topic")
	}
	if r.Output.Key == "" {
		return errors.New("empty output object key")
	}
	switch r.Output.Kind {
	case "":
		r.Output.Kind = ObjectSegment
	case ObjectFlush, ObjectSegment:
	default:
		return fmt.Errorf("output object kind %q is unknown", r.Output.Kind)
	}
	if len(r.Inputs) == 0 {
		return errors.New("no input rows")
	}
	if len(r.Rows) == 0 {
		return errors.New("no output rows")
	}
	byOffset := func(a, b IndexRow) int { return cmp.Compare(a.BaseOffset, b.BaseOffset) }
	where := fmt.Sprintf("%s/%d", r.Lease.TopicID.String(), r.Lease.Partition)
	check := func(what string, rows []IndexRow) error {
		for i := range rows {
			row := &rows[i]
			if row.TopicID.IsZero() {
				row.TopicID, row.Partition = r.Lease.TopicID, r.Lease.Partition
			}
			if row.TopicID != r.Lease.TopicID || row.Partition != r.Lease.Partition {
				return fmt.Errorf("%s: %s row %d belongs to %s/%d", where, what, i, row.TopicID.String(), row.Partition)
			}
			if row.BaseOffset > row.LastOffset {
				return fmt.Errorf("%s: %s row offsets [%d, %d] run backwards", where, what, row.BaseOffset, row.LastOffset)
			}
			if i > 0 && row.BaseOffset <= rows[i-1].LastOffset {
				return fmt.Errorf("%s: %s rows [%d, %d] and [%d, %d] overlap", where, what,
					rows[i-1].BaseOffset, rows[i-1].LastOffset, row.BaseOffset, row.LastOffset)
			}
		}
		return nil
	}

	r.Inputs = slices.Clone(r.Inputs)
	slices.SortFunc(r.Inputs, byOffset)
	if err := check("input", r.Inputs); err != nil {
		return err
	}
	r.Rows = slices.Clone(r.Rows)
	var live int64
	for i := range r.Rows {
		row := &r.Rows[i]
		if row.ObjectKey == "" {
			row.ObjectKey = r.Output.Key
		}
		if row.ObjectKey != r.Output.Key {
			return fmt.Errorf("%s: output row %d points into %q, not the output %q", where, i, row.ObjectKey, r.Output.Key)
		}
		if row.Kind != RowFlush && row.Kind != RowSegment {
			return fmt.Errorf("%s: output row %d has unknown kind %d", where, i, row.Kind)
		}
		if row.Pos < 0 || row.Size < 0 {
			return fmt.Errorf("%s: output row %d at [%d, +%d) is outside the object", where, i, row.Pos, row.Size)
		}
		live += row.Size
	}
	slices.SortFunc(r.Rows, byOffset)
	if err := check("output", r.Rows); err != nil {
		return err
	}
	for i, in := range r.Inputs {
		if in.ObjectKey == r.Output.Key {
			return fmt.Errorf("%s: input row %d is already in the output %q", where, i, r.Output.Key)
		}
	}
	first, last := r.Inputs[0].BaseOffset, r.Inputs[len(r.Inputs)-1].LastOffset
	if r.Rows[0].BaseOffset != first || r.Rows[len(r.Rows)-1].LastOffset != last {
		return fmt.Errorf("%s: output rows span [%d, %d], the inputs [%d, %d]", where,
			r.Rows[0].BaseOffset, r.Rows[len(r.Rows)-1].LastOffset, first, last)
	}
	if live > r.Output.Size {
		return fmt.Errorf("%s: output rows hold %d bytes, more than the output's size %d", where, live, r.Output.Size)
	}
	return nil
}
