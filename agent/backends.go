package agent

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/metastore/postgres"
	"github.com/stratalog/strata/metastore/sqlite"
	"github.com/stratalog/strata/tiering/objstore"
	"github.com/stratalog/strata/tiering/objstore/fs"
	"github.com/stratalog/strata/tiering/objstore/s3"
)

// ErrBadURL marks a metastore or object store URL that is malformed or
// names an unsupported backend: a configuration error, not an outage.
var ErrBadURL = errors.New("agent: bad backend URL")

// OpenMetastore opens the metastore a URL names: sqlite://PATH (relative
// or absolute; sqlite:///abs/path also works).
func OpenMetastore(ctx context.Context, rawURL string) (metastore.Store, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, fmt.Errorf("%w: metastore URL %q: want scheme://..., e.g. sqlite://strata-data/meta.db", ErrBadURL, redactURL(rawURL))
	}
	switch scheme {
	case "sqlite":
		path, _, _ := strings.Cut(rest, "?")
		if path == "" {
			return nil, fmt.Errorf("%w: metastore URL %q: empty path", ErrBadURL, rawURL)
		}
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, err
		}
		return s, nil
	case "postgres", "postgresql":
		s, err := postgres.Open(ctx, rawURL, postgres.Options{})
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		return nil, fmt.Errorf("%w: metastore URL %q: unknown scheme %q (supported: sqlite, postgres)", ErrBadURL, redactURL(rawURL), scheme)
	}
}

// OpenObjectStore opens the object store a URL names: file://DIR or
// s3://BUCKET/PREFIX?endpoint=...&region=...&path_style=true (credentials
// from the standard AWS chain).
func OpenObjectStore(ctx context.Context, rawURL string) (objstore.Store, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, fmt.Errorf("%w: object store URL %q: want scheme://..., e.g. file://strata-data/objects", ErrBadURL, rawURL)
	}
	switch scheme {
	case "file":
		if u, err := url.Parse(rawURL); err == nil && u.RawQuery != "" {
			return nil, fmt.Errorf("%w: object store URL %q: file URLs take no parameters", ErrBadURL, rawURL)
		}
		if rest == "" {
			return nil, fmt.Errorf("%w: object store URL %q: empty directory", ErrBadURL, rawURL)
		}
		s, err := fs.Open(rest)
		if err != nil {
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
		return nil, fmt.Errorf("%w: object store URL %q: unknown scheme %q (supported: file, s3)", ErrBadURL, rawURL, scheme)
	}
}
