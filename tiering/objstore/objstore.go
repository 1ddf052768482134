package objstore

import (
	"context"
	"errors"
	"time"
)

// ErrNotExist is returned (wrapped) when an object does not exist.
var ErrNotExist = errors.New("objstore: object does not exist")

// ErrInvalidRange is returned (wrapped) for a range outside the object.
var ErrInvalidRange = errors.New("objstore: invalid range")

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key      string
	Size     int64
	Modified time.Time
}

// Store is a flat key → bytes store. Keys are slash-separated paths of
// printable ASCII with no "..", no leading slash. Put is atomic: a reader
// sees the whole object or none of it. Implementations are safe for
// concurrent use.
type Store interface {
	// Put stores data under key, replacing any existing object.
	Put(ctx context.Context, key string, data []byte) error
	// Get returns the whole object.
	Get(ctx context.Context, key string) ([]byte, error)
	// GetRange returns n bytes starting at off. A range running past the
	// end of the object is ErrInvalidRange.
	GetRange(ctx context.Context, key string, off, n int64) ([]byte, error)
	// Stat returns the object's info.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// List returns the objects whose key starts with prefix, sorted by key.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	// Delete removes the object; deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error
}
