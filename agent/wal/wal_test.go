package wal

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// logBuffer is a concurrency-safe destination for a test logger.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func open(t testing.TB, opts Options) *Log {
	t.Helper()
	l, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func entry(i int) Entry {
	var id [16]byte
	id[0] = byte(i % 3)
	id[15] = 0xee
	return Entry{
		TopicID:   id,
		Partition: int32(i % 7),
		Epoch:     int32(i/10 + 1),
		Batch:     bytes.Repeat([]byte{byte(i)}, i%50),
	}
}

func entries(from, to int) []Entry {
	var es []Entry
	for i := from; i < to; i++ {
		es = append(es, entry(i))
	}
	return es
}

func appendAll(t testing.TB, l *Log, es []Entry) {
	t.Helper()
	var syncs []*Sync
	for _, e := range es {
		syncs = append(syncs, l.Append(e))
	}
	for i, s := range syncs {
		if err := s.Wait(testCtx(t)); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
}

func sameEntries(t testing.TB, got, want []Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.TopicID != w.TopicID || g.Partition != w.Partition || g.Epoch != w.Epoch || !bytes.Equal(g.Batch, w.Batch) {
			t.Fatalf("entry %d: got %+v, want %+v", i, g, w)
		}
	}
}

func walFiles(t testing.TB, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.wal"))
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	return names
}

// written waits until the writer has finished with g, a sealed
// generation: every entry appended to it has its outcome.
func written(t testing.TB, g *Gen) {
	t.Helper()
	select {
	case <-g.written:
	case <-testCtx(t).Done():
		t.Fatal("sealed generation never finished writing")
	}
}

func TestAppendSyncReopen(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "wal") // Open creates it
	l := open(t, Options{Dir: dir})
	if len(l.Recovered()) != 0 {
		t.Fatal("fresh log recovered entries")
	}
	want := entries(0, 200)
	appendAll(t, l, want)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	first := walFiles(t, dir)
	if len(first) != 1 || first[0] != "00000000000000000000.wal" {
		t.Fatalf("files %v", first)
	}

	l2 := open(t, Options{Dir: dir})
	sameEntries(t, l2.Recovered(), want)
	more := entries(200, 210)
	appendAll(t, l2, more)
	files := walFiles(t, dir)
	if len(files) != 2 || files[1] != "00000000000000000001.wal" {
		t.Fatalf("sequence does not continue after existing files: %v", files)
	}
	if err := l2.DropRecovered(); err != nil {
		t.Fatal(err)
	}
	if files := walFiles(t, dir); !slices.Equal(files, []string{"00000000000000000001.wal"}) {
		t.Fatalf("after DropRecovered: %v", files)
	}
	sameEntries(t, l2.Recovered(), want) // still available to the caller
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}

	l3 := open(t, Options{Dir: dir})
	sameEntries(t, l3.Recovered(), more)
}

func TestGroupCommit(t *testing.T) {
	t.Parallel()
	// A millisecond of fsync latency, as on a real disk, so appends pile up
	// behind each fsync whatever the test machine's storage.
	var fsyncs atomic.Int64
	slow := func(f *os.File) error {
		fsyncs.Add(1)
		time.Sleep(time.Millisecond)
		return f.Sync()
	}
	l := open(t, Options{Dir: t.TempDir(), fsync: slow})
	const workers, each = 64, 20
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := l.Append(entry(w*each + i)).Wait(context.Background()); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d appends failed", failed.Load())
	}
	appends := int64(workers * each)
	syncs := fsyncs.Load()
	t.Logf("%d appends, %d fsyncs", appends, syncs)
	if syncs == 0 || syncs > appends/4 {
		t.Fatalf("%d fsyncs for %d appends: no group commit", syncs, appends)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := open(t, Options{Dir: l.dir})
	if got := len(l2.Recovered()); got != int(appends) {
		t.Fatalf("recovered %d of %d", got, appends)
	}
}

func TestSealRelease(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := open(t, Options{Dir: dir})
	a, b, c := entries(0, 10), entries(10, 25), entries(25, 30)

	appendAll(t, l, a)
	wantBytes := l.OpenBytes()
	g1 := l.Seal()
	if l.OpenBytes() != 0 {
		t.Fatalf("OpenBytes after Seal = %d", l.OpenBytes())
	}
	for _, e := range b {
		l.Append(e) // not waited: the replay below checks them
	}
	g2 := l.Seal()
	empty := l.Seal() // nothing appended: no file
	appendAll(t, l, c)

	written(t, g1)
	written(t, g2)
	sameEntries(t, g1.Entries(), a)
	sameEntries(t, g2.Entries(), b)
	if len(empty.Entries()) != 0 {
		t.Fatal("empty generation has entries")
	}
	if wantBytes != int64(len(a))*32+sumBatch(a) {
		t.Fatalf("OpenBytes before Seal = %d, want %d", wantBytes, int64(len(a))*32+sumBatch(a))
	}
	files := walFiles(t, dir)
	if len(files) != 3 {
		t.Fatalf("files %v, want one per non-empty generation", files)
	}

	if err := l.Release(g1); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(g1); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	if err := l.Release(empty); err != nil {
		t.Fatal(err)
	}
	if got := walFiles(t, dir); !slices.Equal(got, files[1:]) {
		t.Fatalf("after Release(g1): %v, want %v", got, files[1:])
	}
	l.mu.Lock()
	openGen := l.mu.open
	l.mu.Unlock()
	if err := l.Release(openGen); err == nil {
		t.Fatal("Release of the open generation succeeded")
	}
	other := open(t, Options{Dir: t.TempDir()})
	if err := other.Release(g2); err == nil {
		t.Fatal("Release through another log succeeded")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l2 := open(t, Options{Dir: dir})
	sameEntries(t, l2.Recovered(), append(slices.Clone(b), c...))
}

func sumBatch(es []Entry) int64 {
	var n int64
	for _, e := range es {
		n += int64(len(e.Batch))
	}
	return n
}

// TestSealAtomic seals while many goroutines append: every entry lands in
// exactly one generation, and each goroutine's entries stay in order
// across generations.
func TestSealAtomic(t *testing.T) {
	t.Parallel()
	l := open(t, Options{Dir: t.TempDir()})
	const workers, each = 8, 300
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				l.Append(Entry{Partition: int32(w), Epoch: int32(i)})
			}
		}()
	}
	var gens []*Gen
	stop := make(chan struct{})
	sealerDone := make(chan struct{})
	go func() {
		defer close(sealerDone)
		for {
			select {
			case <-stop:
				return
			default:
				gens = append(gens, l.Seal())
				time.Sleep(50 * time.Microsecond)
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-sealerDone
	gens = append(gens, l.Seal())

	next := make([]int32, workers)
	total := 0
	for _, g := range gens {
		written(t, g)
		for _, e := range g.Entries() {
			if e.Epoch != next[e.Partition] {
				t.Fatalf("worker %d: got entry %d, want %d", e.Partition, e.Epoch, next[e.Partition])
			}
			next[e.Partition]++
			total++
		}
	}
	if total != workers*each {
		t.Fatalf("%d entries in generations, want %d", total, workers*each)
	}
	t.Logf("%d generations", len(gens))
}

func TestTornTail(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := open(t, Options{Dir: dir})
	appendAll(t, l, entries(0, 5))
	l.Seal()
	want := entries(5, 15)
	appendAll(t, l, want)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	files := walFiles(t, dir)
	last := filepath.Join(dir, files[len(files)-1])
	st, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	// Cut the last record of the last file in half: a crash mid-write.
	lastRec := int64(frameHeaderSize + entryHeaderSize + len(want[len(want)-1].Batch))
	if err := os.Truncate(last, st.Size()-lastRec/2); err != nil {
		t.Fatal(err)
	}

	var logs logBuffer
	l2 := open(t, Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	sameEntries(t, l2.Recovered(), append(entries(0, 5), want[:len(want)-1]...))
	if !strings.Contains(logs.String(), "torn") || !strings.Contains(logs.String(), files[len(files)-1]) {
		t.Fatalf("no log line for the torn tail: %q", logs.String())
	}

	// Appends after a torn replay go to a new file; the torn one is left to
	// DropRecovered.
	appendAll(t, l2, entries(20, 21))
	if err := l2.DropRecovered(); err != nil {
		t.Fatal(err)
	}
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	l3 := open(t, Options{Dir: dir})
	sameEntries(t, l3.Recovered(), entries(20, 21))
}

func TestCorruptRecords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		corrupt func(t *testing.T, data []byte, recOff int64)
		want    int // entries recovered from the damaged file
	}{
		{"crc", func(t *testing.T, data []byte, off int64) {
			data[off+frameHeaderSize+entryHeaderSize] ^= 1 // first batch byte of record 3
		}, 3},
		{"length too large", func(t *testing.T, data []byte, off int64) {
			binary.BigEndian.PutUint32(data[off:], 0xffffffff)
		}, 3},
		{"length below entry header", func(t *testing.T, data []byte, off int64) {
			binary.BigEndian.PutUint32(data[off:], 3)
		}, 3},
		{"file magic", func(t *testing.T, data []byte, off int64) {
			data[0] = 'X'
		}, 0},
		{"zero tail", func(t *testing.T, data []byte, off int64) {
			clear(data[off:]) // as some file systems leave after a crash
		}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			l := open(t, Options{Dir: dir})
			damaged := entries(1, 9) // every batch non-empty
			appendAll(t, l, damaged)
			l.Seal()
			after := entries(30, 33)
			appendAll(t, l, after)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, walFiles(t, dir)[0])
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			off := int64(fileHeaderSize)
			for _, e := range damaged[:3] {
				off += recordSize(&e)
			}
			tt.corrupt(t, data, off)
			if err := os.WriteFile(path, data, 0o640); err != nil {
				t.Fatal(err)
			}
			var logs logBuffer
			l2 := open(t, Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			// The damaged file stops early; the next file is still replayed.
			sameEntries(t, l2.Recovered(), append(slices.Clone(damaged[:tt.want]), after...))
			if !strings.Contains(logs.String(), "level=WARN") {
				t.Fatalf("no warning logged: %q", logs.String())
			}
		})
	}
}

// TestWriteErrorKeepsLogUsable fails one fsync: that drain's Syncs fail,
// the log keeps working on a fresh file, and replay returns only the
// entries whose Syncs succeeded.
func TestWriteErrorKeepsLogUsable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	errDisk := errors.New("injected fsync failure")
	var failNext atomic.Bool
	failing := func(f *os.File) error {
		if failNext.Swap(false) {
			return errDisk
		}
		return f.Sync()
	}
	var logs logBuffer
	l := open(t, Options{Dir: dir, fsync: failing, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ok1 := entries(0, 3)
	appendAll(t, l, ok1)
	failNext.Store(true)
	bad := l.Append(entry(50))
	if err := bad.Wait(testCtx(t)); !errors.Is(err, errDisk) {
		t.Fatalf("Sync after failed fsync: %v", err)
	}
	ok2 := entries(3, 6)
	appendAll(t, l, ok2)
	g := l.Seal()
	if len(g.Entries()) != 7 {
		t.Fatalf("generation has %d entries, want 7 (the failed one included)", len(g.Entries()))
	}
	files := walFiles(t, dir)
	if len(files) != 2 {
		t.Fatalf("files %v: want the cut-back file and a fresh one", files)
	}
	if !strings.Contains(logs.String(), "injected fsync failure") {
		t.Fatalf("failure not logged: %q", logs.String())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := open(t, Options{Dir: dir})
	sameEntries(t, l2.Recovered(), append(slices.Clone(ok1), ok2...))

	// Release removes every file of the generation.
	if err := l.Release(g); err != nil {
		t.Fatal(err)
	}
	if files := walFiles(t, dir); len(files) != 0 {
		t.Fatalf("after Release: %v", files)
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := open(t, Options{Dir: dir})
	var syncs []*Sync
	for i := range 100 {
		syncs = append(syncs, l.Append(entry(i)))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for i, s := range syncs {
		select {
		case <-s.done:
		default:
			t.Fatalf("Sync %d still pending after Close", i)
		}
		if s.err != nil {
			t.Fatalf("Sync %d: %v", i, s.err)
		}
	}
	if err := l.Append(entry(1)).Wait(testCtx(t)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	g := l.Seal()
	if len(g.Entries()) != 0 {
		t.Fatalf("Seal after Close: %d entries", len(g.Entries()))
	}
	if err := l.Release(g); err != nil {
		t.Fatal(err)
	}
	l2 := open(t, Options{Dir: dir})
	sameEntries(t, l2.Recovered(), entries(0, 100))
}

func TestSyncWaitContext(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	l := open(t, Options{Dir: t.TempDir(), fsync: func(f *os.File) error {
		<-block
		return f.Sync()
	}})
	s := l.Append(entry(1))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v", err)
	}
	close(block)
	if err := s.Wait(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	if _, err := Open(Options{}); err == nil {
		t.Fatal("Open without Dir succeeded")
	}
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Dir: file}); err == nil {
		t.Fatal("Open on a file succeeded")
	}
	// Stray names are skipped, not replayed or fatal.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "junk.wal"), []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	l := open(t, Options{Dir: dir})
	if len(l.Recovered()) != 0 {
		t.Fatal("recovered from a stray file")
	}
	if err := l.Append(Entry{Batch: make([]byte, MaxBatchSize+1)}).Wait(testCtx(t)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized batch: %v", err)
	}
}

func BenchmarkAppend(b *testing.B) {
	var fsyncs atomic.Int64
	l, err := Open(Options{Dir: b.TempDir(), fsync: func(f *os.File) error {
		fsyncs.Add(1)
		return f.Sync()
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	payload := make([]byte, 1024)
	ctx := context.Background()
	b.SetBytes(int64(len(payload)))
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Append(Entry{Partition: 1, Batch: payload}).Wait(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/float64(max(fsyncs.Load(), 1)), "appends/fsync")
}

func ExampleLog() {
	dir, _ := os.MkdirTemp("", "wal-example")
	defer os.RemoveAll(dir)
	l, _ := Open(Options{Dir: dir})
	ctx := context.Background()
	if err := l.Append(Entry{Partition: 0, Batch: []byte("batch")}).Wait(ctx); err != nil {
		fmt.Println(err) // answer the producer with an error
	}
	g := l.Seal()
	fmt.Println(len(g.Entries()), "entry sealed")
	// ... upload g.Entries() and commit them, then:
	_ = l.Release(g)
	_ = l.Close()
	// Output: 1 entry sealed
}
