package agent

import (
	"context"
	"errors"

	"github.com/stratalog/strata/metastore"
	metaopen "github.com/stratalog/strata/metastore/open"
	"github.com/stratalog/strata/tiering/objstore"
	objopen "github.com/stratalog/strata/tiering/objstore/open"
)

// ErrBadURL marks a metastore or object store URL that is malformed or
// names an unsupported backend: a configuration error, not an outage. The
// errors also match metastore/open.ErrBadURL or tiering/objstore/open.ErrBadURL,
// whichever kind of URL it was.
var ErrBadURL = errors.New("agent: bad backend URL")

// OpenMetastore opens the metastore a URL names (see metastore/open).
func OpenMetastore(ctx context.Context, rawURL string) (metastore.Store, error) {
	s, err := metaopen.Metastore(ctx, rawURL)
	if errors.Is(err, metaopen.ErrBadURL) {
		return nil, badURLError{err}
	}
	return s, err
}

// OpenObjectStore opens the object store a URL names (see
// tiering/objstore/open).
func OpenObjectStore(ctx context.Context, rawURL string) (objstore.Store, error) {
	s, err := objopen.ObjectStore(ctx, rawURL)
	if errors.Is(err, objopen.ErrBadURL) {
		return nil, badURLError{err}
	}
	return s, err
}

// badURLError keeps an open package's error text and matches ErrBadURL
// too, so callers need one sentinel for both kinds of URL.
type badURLError struct{ error }

func (e badURLError) Is(target error) bool { return target == ErrBadURL }
func (e badURLError) Unwrap() error        { return e.error }
