package open

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/stratalog/strata/internal/redact"
	"github.com/stratalog/strata/tiering/objstore"
	"github.com/stratalog/strata/tiering/objstore/fs"
	"github.com/stratalog/strata/tiering/objstore/s3"
)

// ErrBadURL marks an object store URL that is malformed or names an
// unsupported backend: a configuration error, not an outage.
var ErrBadURL = errors.New("objstore/open: bad object store URL")

// ObjectStore opens the object store the URL names.
func ObjectStore(ctx context.Context, rawURL string) (objstore.Store, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, fmt.Errorf("%w: object store URL %q: want scheme://..., e.g. file://strata-data/objects", ErrBadURL, redact.URL(rawURL))
	}
	switch scheme {
	case "file":
		if u, err := url.Parse(rawURL); err == nil && u.RawQuery != "" {
			return nil, fmt.Errorf("%w: object store URL %q: file URLs take no parameters", ErrBadURL, redact.URL(rawURL))
		}
		if rest == "" {
			return nil, fmt.Errorf("%w: object store URL %q: empty directory", ErrBadURL, rawURL)
		}
		s, err := fs.Open(rest)
		if err != nil {
			// Not s itself: a nil *Store in an interface is not nil.
			return nil, err
		}
		return s, nil
	case "s3":
		s, err := s3.Open(ctx, rawURL)
		if errors.Is(err, s3.ErrInvalidURL) {
			return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
		}
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		return nil, fmt.Errorf("%w: object store URL %q: unknown scheme %q (supported: file, s3)", ErrBadURL, redact.URL(rawURL), scheme)
	}
}
