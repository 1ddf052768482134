package wal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
)

// Errors returned by this package.
var (
	// ErrClosed fails the Sync of an Append made after Close.
	ErrClosed = errors.New("wal: closed")
	// ErrTooLarge fails the Sync of an Append whose batch is longer than
	// MaxBatchSize.
	ErrTooLarge = errors.New("wal: batch too large")
)

// Entry is one record batch of one partition, as the log stores it.
type Entry struct {
	TopicID   [16]byte
	Partition int32
	Epoch     int32 // the owner's partition epoch when the batch was appended
	Batch     []byte
}

// Options configures a Log.
type Options struct {
	// Dir holds the log files; Open creates it. Required.
	Dir string
	// Logger receives replay and I/O problems. Default: discard.
	Logger *slog.Logger

	// fsync replaces (*os.File).Sync in tests, to add latency or faults.
	fsync func(*os.File) error
}

// Log is the agent's write-ahead buffer: one append-only log for all
// partitions, split into generations, with group-committed fsync. Its
// methods are safe for concurrent use.
type Log struct {
	dir    string
	logger *slog.Logger
	fsync  func(*os.File) error

	recovered []Entry

	wake chan struct{} // cap 1: work is queued
	quit chan struct{} // closed by Close
	done chan struct{} // closed when the writer has exited

	// mu guards these fields and the l.mu-guarded fields of every Gen.
	mu struct {
		sync.Mutex
		open      *Gen
		queue     []pending // appended, not yet taken by the writer
		sealed    []*Gen    // sealed, not yet seen by the writer
		closed    bool
		recovered []logFile // files present at Open, until DropRecovered
	}

	// w is owned by the writer goroutine.
	w writerState
}

// pending is one queued append.
type pending struct {
	gen   *Gen
	entry Entry
	sync  *Sync
}

// Sync reports when one appended entry is durable.
type Sync struct {
	done chan struct{}
	err  error // written once, before done is closed
}

func newSync() *Sync { return &Sync{done: make(chan struct{})} }

func (s *Sync) finish(err error) {
	s.err = err
	close(s.done)
}

// Wait returns once the entry is written and fsynced (nil), or failed to
// be (the write or fsync error, ErrClosed, ErrTooLarge), or ctx is done
// (ctx.Err(); the entry may still become durable).
func (s *Sync) Wait(ctx context.Context) error {
	select {
	case <-s.done:
		return s.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Gen is a generation: the entries appended between two Seals, kept in
// memory for the uploader and written to their own file(s).
type Gen struct {
	log *Log

	// Guarded by log.mu.
	entries []Entry
	bytes   int64
	sealed  bool

	// Set by the writer; read by others only after written is closed.
	files   []string // file paths in sequence order: more than one after a write error
	written chan struct{}
}

func (l *Log) newGen() *Gen { return &Gen{log: l, written: make(chan struct{})} }

// Entries returns g's entries in append order. The slice and the batches
// are shared: do not modify them. For the open generation it is a snapshot.
func (g *Gen) Entries() []Entry {
	g.log.mu.Lock()
	defer g.log.mu.Unlock()
	return g.entries[:len(g.entries):len(g.entries)]
}

// Open opens the log in opts.Dir, creating the directory if needed, and
// replays every *.wal file in it (see Recovered). New generations get files
// numbered after the existing ones. It starts the writer goroutine, which
// Close stops.
func Open(opts Options) (*Log, error) {
	if opts.Dir == "" {
		return nil, errors.New("wal: Options.Dir is required")
	}
	l := &Log{
		dir:    opts.Dir,
		logger: opts.Logger,
		fsync:  opts.fsync,
		wake:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if l.logger == nil {
		l.logger = slog.New(slog.DiscardHandler)
	}
	if l.fsync == nil {
		l.fsync = (*os.File).Sync
	}
	if err := os.MkdirAll(l.dir, 0o750); err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	files, err := listFiles(l.dir, l.logger)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		before := len(l.recovered)
		l.recovered, err = replayFile(f.path, l.recovered)
		if errors.Is(err, errTorn) {
			l.logger.Warn("wal: replay stopped at a torn or corrupt record; the rest of the file is ignored",
				"file", f.path, "entries", len(l.recovered)-before, "err", err)
		} else if err != nil {
			return nil, err
		}
		l.w.nextSeq = f.seq + 1
	}
	l.mu.recovered = files
	l.mu.open = l.newGen()
	go l.run()
	return l, nil
}

// Recovered returns the entries of the files present at Open, in append
// order. A file's replay stops at its first torn or corrupt record (logged).
// The slice is shared: do not modify it.
func (l *Log) Recovered() []Entry { return l.recovered }

// DropRecovered deletes the files present at Open. Call it once what
// Recovered returned is uploaded, or re-appended and synced. Recovered keeps
// returning the entries.
func (l *Log) DropRecovered() error {
	l.mu.Lock()
	files := l.mu.recovered
	l.mu.recovered = nil
	l.mu.Unlock()
	return removeFiles(l.dir, files)
}

func removeFiles(dir string, files []logFile) error {
	if len(files) == 0 {
		return nil
	}
	var errs []error
	for _, f := range files {
		if err := os.Remove(f.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := syncDir(dir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	return nil
}

// Append queues e in the open generation and returns at once; the returned
// Sync reports when e is durable. The log takes ownership of e.Batch: the
// caller must not modify it afterwards.
func (l *Log) Append(e Entry) *Sync {
	s := newSync()
	if len(e.Batch) > MaxBatchSize {
		s.finish(fmt.Errorf("%w: %d bytes, max %d", ErrTooLarge, len(e.Batch), MaxBatchSize))
		return s
	}
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		s.finish(ErrClosed)
		return s
	}
	g := l.mu.open
	g.entries = append(g.entries, e)
	g.bytes += recordSize(&e)
	l.mu.queue = append(l.mu.queue, pending{gen: g, entry: e, sync: s})
	l.mu.Unlock()
	l.signal()
	return s
}

// signal wakes the writer without blocking.
func (l *Log) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// OpenBytes returns the bytes appended to the open generation so far, on
// disk framing included.
func (l *Log) OpenBytes() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.open.bytes
}

// Seal closes the open generation and returns it: every Append that
// returned before Seal is in it, every Append after Seal returns goes to
// the next generation. It does not wait for the disk.
// After Close it returns an empty generation.
func (l *Log) Seal() *Gen {
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		g := l.newGen()
		g.sealed = true
		close(g.written)
		return g
	}
	g := l.mu.open
	g.sealed = true
	l.mu.sealed = append(l.mu.sealed, g)
	l.mu.open = l.newGen()
	l.mu.Unlock()
	l.signal()
	return g
}

// Release deletes the files of g, a sealed generation that has been
// uploaded and committed, after waiting for the writer to finish with
// them. Releasing a generation twice is harmless.
func (l *Log) Release(g *Gen) error {
	if g.log != l {
		return errors.New("wal: Release of a generation from another log")
	}
	l.mu.Lock()
	sealed := g.sealed
	l.mu.Unlock()
	if !sealed {
		return errors.New("wal: Release of the open generation")
	}
	<-g.written
	files := make([]logFile, len(g.files))
	for i, p := range g.files {
		files[i] = logFile{path: p}
	}
	return removeFiles(l.dir, files)
}

// Close writes and syncs everything queued, closes the files and stops the
// writer goroutine. Appends after Close fail with ErrClosed. It returns the
// error of that last write, if any. Calling Close again returns nil.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		return nil
	}
	l.mu.closed = true
	// The open generation is sealed by Close, so Release works on it.
	g := l.mu.open
	g.sealed = true
	l.mu.sealed = append(l.mu.sealed, g)
	l.mu.Unlock()
	close(l.quit)
	<-l.done
	return l.w.lastErr
}
