package wal

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// writerState belongs to the writer goroutine (run). Open sets nextSeq
// before starting it; Close reads lastErr after it has exited.
type writerState struct {
	nextSeq uint64
	files   map[*Gen]*genFile // the file each generation is writing to
	bw      *bufio.Writer
	spare   []pending // the queue buffer to hand back to Append
	lastErr error     // the error of the latest drain
}

// genFile is the file a generation is writing to.
type genFile struct {
	f      *os.File
	path   string
	size   int64 // bytes written
	synced int64 // bytes known to be on disk
}

// maxSpareQueue bounds the capacity of the queue buffer kept between
// drains, so one burst does not pin a large array.
const maxSpareQueue = 1 << 14

// run is the writer goroutine: one drain per wake-up, a final drain on
// quit.
func (l *Log) run() {
	defer close(l.done)
	l.w.files = make(map[*Gen]*genFile)
	l.w.bw = bufio.NewWriterSize(nil, 256<<10)
	for {
		select {
		case <-l.wake:
			l.drain()
		case <-l.quit:
			l.drain()
			for g, gf := range l.w.files { // none expected: Close sealed the open generation
				l.closeFile(g, gf)
			}
			return
		}
	}
}

// drain writes everything queued, one fsync per generation file touched
// (normally one: a group commit), then completes the Syncs and finishes
// generations sealed before the queue was taken.
func (l *Log) drain() {
	l.mu.Lock()
	q := l.mu.queue
	l.mu.queue = l.w.spare
	sealed := l.mu.sealed
	l.mu.sealed = nil
	l.mu.Unlock()

	l.w.lastErr = nil
	for i := 0; i < len(q); {
		g := q[i].gen
		j := i + 1
		for j < len(q) && q[j].gen == g {
			j++
		}
		err := l.writeRun(g, q[i:j])
		if err != nil && l.w.lastErr == nil {
			l.w.lastErr = err
		}
		for _, p := range q[i:j] {
			p.sync.finish(err)
		}
		i = j
	}
	// Entries of a generation sealed before the queue was taken are all in
	// this queue or earlier ones, so its files are complete.
	for _, g := range sealed {
		if gf := l.w.files[g]; gf != nil {
			l.closeFile(g, gf)
		}
		close(g.written)
	}
	clear(q) // drop the batches
	if cap(q) > maxSpareQueue {
		q = nil
	}
	l.w.spare = q[:0]
}

// writeRun writes and fsyncs consecutive entries of one generation.
func (l *Log) writeRun(g *Gen, run []pending) error {
	gf, err := l.fileFor(g)
	if err != nil {
		return err
	}
	bw := l.w.bw
	bw.Reset(gf.f)
	var n int64
	for i := range run {
		if err = writeRecord(bw, &run[i].entry); err != nil {
			break
		}
		n += recordSize(&run[i].entry)
	}
	if err == nil {
		err = bw.Flush()
	}
	bw.Reset(nil)
	gf.size += n
	if err == nil {
		err = l.fsync(gf.f)
	}
	if err != nil {
		l.failFile(g, gf, err)
		return fmt.Errorf("wal: %w", err)
	}
	gf.synced = gf.size
	return nil
}

// fileFor returns g's current file, creating the next numbered file if g
// has none (its first write, or the first after a failure).
func (l *Log) fileFor(g *Gen) (*genFile, error) {
	if gf := l.w.files[g]; gf != nil {
		return gf, nil
	}
	seq := l.w.nextSeq
	l.w.nextSeq++ // even on failure: never reuse a name that may exist
	path := filepath.Join(l.dir, fileName(seq))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	_, err = f.Write(appendFileHeader(nil))
	if err == nil {
		// Make the new name durable before any Sync reports success.
		err = syncDir(l.dir)
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("wal: %w", err)
	}
	gf := &genFile{f: f, path: path, size: fileHeaderSize}
	l.w.files[g] = gf
	g.files = append(g.files, path)
	return gf, nil
}

// failFile abandons g's current file after a write or fsync error. After a
// failed fsync the kernel may have dropped the dirty pages and a retried
// fsync can falsely succeed, so the file is never written again: it is
// cut back to what was last synced (removed if nothing was) and closed,
// and g's next write starts a fresh file. Both steps are best effort; if
// they fail, replay may return entries whose Syncs failed.
func (l *Log) failFile(g *Gen, gf *genFile, cause error) {
	l.logger.Error("wal: write failed; abandoning file", "file", gf.path, "err", cause)
	delete(l.w.files, g)
	var err error
	if gf.synced == 0 {
		gf.f.Close()
		if err = os.Remove(gf.path); err == nil {
			g.files = slices.DeleteFunc(g.files, func(p string) bool { return p == gf.path })
		}
	} else {
		err = gf.f.Truncate(gf.synced)
		if err == nil {
			err = l.fsync(gf.f)
		}
		gf.f.Close()
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		l.logger.Error("wal: cleaning up failed file", "file", gf.path, "err", err)
	}
}

// closeFile closes g's current file once g can get no more entries.
func (l *Log) closeFile(g *Gen, gf *genFile) {
	delete(l.w.files, g)
	if err := gf.f.Close(); err != nil {
		l.logger.Warn("wal: closing file", "file", gf.path, "err", err)
	}
}
