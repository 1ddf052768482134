package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/stratalog/strata/tiering/objstore"
	"github.com/stratalog/strata/tiering/objstore/internal/objkey"
)

// ErrInvalidKey is returned (wrapped, with the reason) for a key that breaks
// the rules of objstore.Store or uses the reserved ".tmp" element.
var ErrInvalidKey = errors.New("fs: invalid key")

// tmpDir is the directory, under the root, that holds files being written.
const tmpDir = ".tmp"

// Store is an objstore.Store in a local directory. It is safe for
// concurrent use, also by several processes sharing the directory.
type Store struct {
	root string // absolute, cleaned
}

var (
	_ objstore.Store        = (*Store)(nil)
	_ objstore.BatchDeleter = (*Store)(nil)
)

// staleTemp is how old a file in .tmp must be before Open removes it:
// several processes (an agent, compactors) may share one directory, and
// a younger file may be another process's Put in progress.
const staleTemp = time.Hour

// Open returns a Store rooted at dir, creating dir if needed and removing
// temporary files left by an earlier crash (those older than an hour; a
// younger one may belong to another process sharing the directory).
func Open(dir string) (*Store, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("fs: open %q: %w", dir, err)
	}
	tmp := filepath.Join(root, tmpDir)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("fs: open: %w", err)
	}
	// Anything in .tmp is an unfinished Put: no reader can see it.
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return nil, fmt.Errorf("fs: open: read temp dir: %w", err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < staleTemp {
			continue // gone already, or maybe another process's
		}
		if err := os.RemoveAll(filepath.Join(tmp, e.Name())); err != nil {
			return nil, fmt.Errorf("fs: open: clear temp dir: %w", err)
		}
	}
	return &Store{root: root}, nil
}

// Dir returns the store's root directory.
func (s *Store) Dir() string { return s.root }

// path checks key and returns its file path.
func (s *Store) path(key string) (string, error) {
	if reason := objkey.Check(key); reason != "" {
		return "", fmt.Errorf("%w %q: %s", ErrInvalidKey, key, reason)
	}
	if key == tmpDir || strings.HasPrefix(key, tmpDir+"/") {
		return "", fmt.Errorf("%w %q: first element %q is reserved", ErrInvalidKey, key, tmpDir)
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

// Put implements objstore.Store.
func (s *Store) Put(ctx context.Context, key string, data []byte) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fs: put %q: %w", key, err)
	}
	if err := s.put(ctx, p, data); err != nil {
		return fmt.Errorf("fs: put %q: %w", key, err)
	}
	return nil
}

func (s *Store) put(ctx context.Context, p string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Join(s.root, tmpDir), "put-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// Write in pieces so a cancelled context stops a large Put early.
	const piece = 4 << 20
	for rest := data; len(rest) > 0; {
		n := min(len(rest), piece)
		if _, err := f.Write(rest[:n]); err != nil {
			return err
		}
		rest = rest[n:]
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	dir := filepath.Dir(p)
	created, err := mkdirs(dir)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		return err
	}
	// The rename is durable once the directory holding the new entry is
	// synced; each directory we created must be synced into its parent.
	if err := syncDir(dir); err != nil {
		return err
	}
	for _, d := range created {
		if err := syncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

// mkdirs is os.MkdirAll that also reports which directories it created,
// deepest last.
func mkdirs(dir string) ([]string, error) {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return nil, fmt.Errorf("%s is an object, not a directory", dir)
		}
		return nil, nil
	}
	if !errors.Is(err, iofs.ErrNotExist) {
		return nil, err
	}
	created, err := mkdirs(filepath.Dir(dir))
	if err != nil {
		return nil, err
	}
	switch err := os.Mkdir(dir, 0o755); {
	case err == nil:
		created = append(created, dir)
	case errors.Is(err, iofs.ErrExist):
		// A concurrent Put created it.
	default:
		return nil, err
	}
	return created, nil
}

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

// open opens the object's file, mapping "missing" and "is a directory" to
// objstore.ErrNotExist.
func (s *Store) open(ctx context.Context, op, key string) (*os.File, int64, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, 0, err
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("fs: %s %q: %w", op, key, err)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, 0, s.wrap(op, key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("fs: %s %q: %w", op, key, err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, 0, fmt.Errorf("fs: %s %q: %w", op, key, objstore.ErrNotExist)
	}
	return f, fi.Size(), nil
}

// wrap prefixes err and maps a missing file to objstore.ErrNotExist. A path
// element that is a file (ENOTDIR) also means the object is missing.
func (s *Store) wrap(op, key string, err error) error {
	if errors.Is(err, iofs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("fs: %s %q: %w", op, key, objstore.ErrNotExist)
	}
	return fmt.Errorf("fs: %s %q: %w", op, key, err)
}

// Get implements objstore.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	f, size, err := s.open(ctx, "get", key)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, size)
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, fmt.Errorf("fs: get %q: %w", key, err)
	}
	return buf, nil
}

// GetRange implements objstore.Store.
func (s *Store) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	if off < 0 || n < 0 {
		// Check the key first so an invalid key is reported as such.
		if _, err := s.path(key); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("fs: getrange %q [%d,+%d): %w", key, off, n, objstore.ErrInvalidRange)
	}
	f, size, err := s.open(ctx, "getrange", key)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if off > size || n > size-off {
		return nil, fmt.Errorf("fs: getrange %q [%d,+%d) of %d bytes: %w", key, off, n, size, objstore.ErrInvalidRange)
	}
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, off); err != nil && !(errors.Is(err, io.EOF) && n == 0) {
		return nil, fmt.Errorf("fs: getrange %q: %w", key, err)
	}
	return buf, nil
}

// Stat implements objstore.Store.
func (s *Store) Stat(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	p, err := s.path(key)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return objstore.ObjectInfo{}, fmt.Errorf("fs: stat %q: %w", key, err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return objstore.ObjectInfo{}, s.wrap("stat", key, err)
	}
	if fi.IsDir() {
		return objstore.ObjectInfo{}, fmt.Errorf("fs: stat %q: %w", key, objstore.ErrNotExist)
	}
	return objstore.ObjectInfo{Key: key, Size: fi.Size(), Modified: fi.ModTime()}, nil
}

// List implements objstore.Store. It walks only the directory the prefix
// names up to its last '/', so a narrow prefix is cheap.
func (s *Store) List(ctx context.Context, prefix string) ([]objstore.ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fs: list %q: %w", prefix, err)
	}
	start := s.root
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dirPart := prefix[:i]
		if objkey.Check(dirPart) != "" {
			// No valid key can start with this prefix.
			return nil, nil
		}
		start = filepath.Join(s.root, filepath.FromSlash(dirPart))
	}
	var out []objstore.ObjectInfo
	err := filepath.WalkDir(start, func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, iofs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				// Missing start directory, or removed while walking.
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			if key == tmpDir {
				return filepath.SkipDir
			}
			// Skip directories that cannot hold keys with the prefix.
			if key != "." && !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, iofs.ErrNotExist) {
			return nil // deleted while walking
		}
		if err != nil {
			return err
		}
		out = append(out, objstore.ObjectInfo{Key: key, Size: fi.Size(), Modified: fi.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("fs: list %q: %w", prefix, err)
	}
	// WalkDir's order is by path element, not by key: "a/b" comes before
	// "a-c" but sorts after it.
	slices.SortFunc(out, func(a, b objstore.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete implements objstore.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fs: delete %q: %w", key, err)
	}
	removed, err := remove(p)
	if err == nil && removed {
		err = syncDir(filepath.Dir(p))
	}
	if err != nil {
		return fmt.Errorf("fs: delete %q: %w", key, err)
	}
	return nil
}

// DeleteBatch implements objstore.BatchDeleter: it removes the files one
// by one, then syncs each directory it removed from once, where Delete
// syncs after every file. An invalid key or a failed removal is a
// *objstore.KeyError; the other keys are deleted. A failed directory sync
// fails the keys removed from that directory: their removal may not
// survive a crash.
func (s *Store) DeleteBatch(ctx context.Context, keys []string) error {
	if len(keys) > objstore.MaxBatchDelete {
		return fmt.Errorf("fs: delete batch of %d keys: more than %d", len(keys), objstore.MaxBatchDelete)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fs: delete batch of %d keys: %w", len(keys), err)
	}
	var errs []error
	dirs := map[string][]string{} // directory → keys removed from it
	for i, key := range keys {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("fs: delete batch: %d keys not deleted: %w", len(keys)-i, err))
			break
		}
		p, err := s.path(key)
		if err != nil {
			errs = append(errs, &objstore.KeyError{Key: key, Err: err})
			continue
		}
		removed, err := remove(p)
		if err != nil {
			errs = append(errs, &objstore.KeyError{Key: key, Err: fmt.Errorf("fs: %w", err)})
			continue
		}
		if removed {
			d := filepath.Dir(p)
			dirs[d] = append(dirs[d], key)
		}
	}
	for d, removed := range dirs {
		if err := syncDir(d); err != nil {
			for _, key := range removed {
				errs = append(errs, &objstore.KeyError{Key: key, Err: fmt.Errorf("fs: %w", err)})
			}
		}
	}
	return errors.Join(errs...)
}

// remove removes the object file at p and reports whether there was one.
// A missing file, or a directory (not an object), is not an error.
func remove(p string) (bool, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		if errors.Is(err, iofs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return false, nil
		}
		return false, err
	}
	if fi.IsDir() {
		return false, nil // not an object
	}
	if err := os.Remove(p); err != nil {
		if errors.Is(err, iofs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}
