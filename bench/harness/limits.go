package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/stratalog/strata/tiering/objstore"
)

// fsyncLimit writes total bytes in chunk-sized writes, each followed by
// fsync, to a file in dir, and returns MB/s: the most the write-ahead
// buffer (acks=1) can take on this disk.
func fsyncLimit(dir string, total, chunk int) float64 {
	f, err := os.CreateTemp(dir, "fsync-limit-")
	if err != nil {
		fatalf("fsync limit: %v", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, chunk)
	rand.Read(buf)
	start := time.Now()
	for w := 0; w < total; w += chunk {
		if _, err := f.Write(buf); err != nil {
			fatalf("fsync limit: %v", err)
		}
		if err := f.Sync(); err != nil {
			fatalf("fsync limit: %v", err)
		}
	}
	return float64(total) / time.Since(start).Seconds() / 1e6
}

// objLimits measures raw PUT then GET throughput (MB/s) of objects of size
// bytes, streams at a time, total bytes in all, and deletes them after.
func objLimits(ctx context.Context, s objstore.Store, prefix string, total, size, streams int) (putMBs, getMBs float64) {
	n := total / size
	if n < streams {
		n = streams
	}
	buf := make([]byte, size)
	rand.Read(buf)
	key := func(i int) string { return fmt.Sprintf("%s%06d", prefix, i) }
	run := func(op func(i int) error) float64 {
		var wg sync.WaitGroup
		next := make(chan int, n)
		for i := 0; i < n; i++ {
			next <- i
		}
		close(next)
		errs := make(chan error, streams)
		start := time.Now()
		for w := 0; w < streams; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					if err := op(i); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		select {
		case err := <-errs:
			fatalf("object store limit: %v", err)
		default:
		}
		return float64(n*size) / time.Since(start).Seconds() / 1e6
	}
	putMBs = run(func(i int) error { return s.Put(ctx, key(i), buf) })
	getMBs = run(func(i int) error {
		b, err := s.Get(ctx, key(i))
		if err == nil && len(b) != size {
			err = fmt.Errorf("GET %s: %d bytes, want %d", key(i), len(b), size)
		}
		return err
	})
	for i := 0; i < n; i++ {
		s.Delete(ctx, key(i))
	}
	return putMBs, getMBs
}
