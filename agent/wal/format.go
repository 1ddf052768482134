package wal

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// File layout; see doc.go.
const (
	fileMagic      = "SWAL"
	fileVersion    = 1
	fileHeaderSize = 8 // magic, big-endian uint32 version

	frameHeaderSize = 8  // payload length, CRC-32C of the payload
	entryHeaderSize = 24 // topic id, partition, epoch

	// MaxBatchSize is the largest batch an Entry may carry. Replay refuses
	// longer records before allocating, so a corrupt length cannot make
	// Open allocate more than this.
	MaxBatchSize = 128<<20 - entryHeaderSize

	fileSuffix = ".wal"
	seqDigits  = 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recordSize is the number of bytes e takes in a file.
func recordSize(e *Entry) int64 {
	return frameHeaderSize + entryHeaderSize + int64(len(e.Batch))
}

// appendFileHeader appends the header that opens every file.
func appendFileHeader(dst []byte) []byte {
	dst = append(dst, fileMagic...)
	return binary.BigEndian.AppendUint32(dst, fileVersion)
}

// writeRecord writes e's frame to w: the frame header and entry header
// from one small buffer, then the batch itself, uncopied.
func writeRecord(w *bufio.Writer, e *Entry) error {
	var hdr [frameHeaderSize + entryHeaderSize]byte
	p := hdr[frameHeaderSize:]
	copy(p, e.TopicID[:])
	binary.BigEndian.PutUint32(p[16:], uint32(e.Partition))
	binary.BigEndian.PutUint32(p[20:], uint32(e.Epoch))
	crc := crc32.Update(crc32.Checksum(p, castagnoli), castagnoli, e.Batch)
	binary.BigEndian.PutUint32(hdr[0:], uint32(entryHeaderSize+len(e.Batch)))
	binary.BigEndian.PutUint32(hdr[4:], crc)
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(e.Batch)
	return err
}

// fileName returns the name of the file with sequence number seq.
func fileName(seq uint64) string {
	return fmt.Sprintf("%0*d%s", seqDigits, seq, fileSuffix)
}

// parseFileName returns the sequence number of a log file name.
func parseFileName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, fileSuffix)
	if !ok || len(digits) != seqDigits {
		return 0, false
	}
	seq, err := strconv.ParseUint(digits, 10, 64)
	return seq, err == nil
}

type logFile struct {
	seq  uint64
	path string
}

// listFiles returns dir's log files in sequence order. Names that end in
// .wal but are not a sequence number are logged and skipped.
func listFiles(dir string, logger *slog.Logger) ([]logFile, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	var files []logFile
	for _, de := range des {
		if !de.Type().IsRegular() || !strings.HasSuffix(de.Name(), fileSuffix) {
			continue
		}
		seq, ok := parseFileName(de.Name())
		if !ok {
			logger.Warn("wal: ignoring file with unexpected name", "dir", dir, "name", de.Name())
			continue
		}
		files = append(files, logFile{seq: seq, path: filepath.Join(dir, de.Name())})
	}
	slices.SortFunc(files, func(a, b logFile) int { return cmp.Compare(a.seq, b.seq) })
	return files, nil
}

// errTorn marks where a file's replay stopped; it is logged, not returned.
var errTorn = errors.New("torn or corrupt record")

// replayFile appends the entries of one file to dst. A torn or corrupt
// record ends the file's replay: the entries before it are returned with
// an error wrapping errTorn that says where and why. Other errors are I/O
// errors.
func replayFile(path string, dst []Entry) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return dst, fmt.Errorf("wal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return dst, fmt.Errorf("wal: %w", err)
	}
	size := st.Size()
	if size == 0 {
		// Created, then the process died before the first write landed.
		return dst, nil
	}
	r := bufio.NewReaderSize(f, 1<<20)
	var fh [fileHeaderSize]byte
	if _, err := io.ReadFull(r, fh[:]); err != nil {
		return dst, fmt.Errorf("%w: file header: %v", errTorn, err)
	}
	if string(fh[:4]) != fileMagic {
		return dst, fmt.Errorf("%w: bad file magic %q", errTorn, fh[:4])
	}
	if v := binary.BigEndian.Uint32(fh[4:]); v != fileVersion {
		return dst, fmt.Errorf("%w: unknown file version %d", errTorn, v)
	}
	off := int64(fileHeaderSize)
	for off < size {
		var hdr [frameHeaderSize]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return dst, fmt.Errorf("%w at offset %d: frame header: %v", errTorn, off, err)
		}
		n := int64(binary.BigEndian.Uint32(hdr[0:]))
		want := binary.BigEndian.Uint32(hdr[4:])
		// Check the length before allocating for it.
		if n < entryHeaderSize || n > entryHeaderSize+MaxBatchSize || n > size-off-frameHeaderSize {
			return dst, fmt.Errorf("%w at offset %d: record length %d with %d bytes left", errTorn, off, n, size-off-frameHeaderSize)
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			return dst, fmt.Errorf("%w at offset %d: payload: %v", errTorn, off, err)
		}
		if got := crc32.Checksum(payload, castagnoli); got != want {
			return dst, fmt.Errorf("%w at offset %d: crc %#08x, want %#08x", errTorn, off, got, want)
		}
		var e Entry
		copy(e.TopicID[:], payload)
		e.Partition = int32(binary.BigEndian.Uint32(payload[16:]))
		e.Epoch = int32(binary.BigEndian.Uint32(payload[20:]))
		e.Batch = payload[entryHeaderSize:]
		dst = append(dst, e)
		off += frameHeaderSize + n
	}
	return dst, nil
}

// syncDir fsyncs a directory so that file creations and removals in it are
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
