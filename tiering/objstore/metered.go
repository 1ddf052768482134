package objstore

import (
	"context"
	"errors"
	"time"
)

// Metered returns a Store that forwards to s and records every request in
// m: count, bytes, failures and latency per operation.
//
// A missing object (ErrNotExist) and a cancelled or expired context are not
// counted as errors: the first is an answer (the reader probes, GC races
// deletes), the second is the caller giving up. errors_total is meant to
// page someone when the store itself is failing.
func Metered(s Store, m *Metrics) Store {
	return &metered{s: s, m: m}
}

type metered struct {
	s Store
	m *Metrics
}

func (s *metered) done(op int, start time.Time, n int, err error) {
	m := s.m
	m.count[op].Add(1)
	m.reqC[op].Inc()
	m.durO[op].Observe(time.Since(start).Seconds())
	if n > 0 {
		m.byteSum[op].Add(int64(n))
		m.byteC[op].Add(float64(n))
	}
	if err != nil && !errors.Is(err, ErrNotExist) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		m.errorSum[op].Add(1)
		m.errC[op].Inc()
	}
}

// Indexes into metricOps; kept in step by TestMeteredOpIndexes.
const (
	iPut = iota
	iGet
	iGetRange
	iStat
	iList
	iDelete
	iDeleteBatch
	iAbortUploads
)

func (s *metered) Put(ctx context.Context, key string, data []byte) error {
	start := time.Now()
	err := s.s.Put(ctx, key, data)
	n := len(data)
	if err != nil {
		n = 0
	}
	s.done(iPut, start, n, err)
	return err
}

func (s *metered) Get(ctx context.Context, key string) ([]byte, error) {
	start := time.Now()
	data, err := s.s.Get(ctx, key)
	s.done(iGet, start, len(data), err)
	return data, err
}

func (s *metered) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	start := time.Now()
	data, err := s.s.GetRange(ctx, key, off, n)
	s.done(iGetRange, start, len(data), err)
	return data, err
}

func (s *metered) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	start := time.Now()
	info, err := s.s.Stat(ctx, key)
	s.done(iStat, start, 0, err)
	return info, err
}

func (s *metered) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	start := time.Now()
	list, err := s.s.List(ctx, prefix)
	s.done(iList, start, 0, err)
	return list, err
}

func (s *metered) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := s.s.Delete(ctx, key)
	s.done(iDelete, start, 0, err)
	if err == nil {
		s.m.deletedSum.Add(1)
		s.m.deleted.Inc()
	}
	return err
}

// DeleteBatch implements BatchDeleter (see Metered).
func (s *metered) DeleteBatch(ctx context.Context, keys []string) error {
	bd, ok := s.s.(BatchDeleter)
	if !ok {
		return deleteEach(ctx, s, keys) // counted by Delete
	}
	start := time.Now()
	err := bd.DeleteBatch(ctx, keys)
	s.done(iDeleteBatch, start, 0, err)
	if n := len(keys) - failedKeys(err, len(keys)); n > 0 {
		s.m.deletedSum.Add(int64(n))
		s.m.deleted.Add(float64(n))
	}
	return err
}

// AbortStaleUploads implements UploadAborter (see Metered).
func (s *metered) AbortStaleUploads(ctx context.Context, olderThan time.Time) (int, error) {
	ua, ok := s.s.(UploadAborter)
	if !ok {
		return 0, nil
	}
	start := time.Now()
	n, err := ua.AbortStaleUploads(ctx, olderThan)
	s.done(iAbortUploads, start, 0, err)
	if n > 0 {
		s.m.abortedSum.Add(int64(n))
		s.m.aborted.Add(float64(n))
	}
	return n, err
}
