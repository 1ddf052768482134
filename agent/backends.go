package agent

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/metastore/sqlite"
	"github.com/stratalog/strata/tiering/objstore"
	"github.com/stratalog/strata/tiering/objstore/fs"
	"github.com/stratalog/strata/tiering/objstore/s3"
)

// OpenMetastore opens the metastore a URL names: sqlite://PATH (relative
// or absolute; sqlite:///abs/path also works).
func OpenMetastore(ctx context.Context, rawURL string) (metastore.Store, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, fmt.Errorf("metastore URL %q: want scheme://..., e.g. sqlite://strata-data/meta.db", rawURL)
	}
	switch scheme {
	case "sqlite":
		path, _, _ := strings.Cut(rest, "?")
		if path == "" {
			return nil, fmt.Errorf("metastore URL %q: empty path", rawURL)
		}
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, err
		}
		return s, nil
	case "postgres", "postgresql":
		return nil, fmt.Errorf("metastore URL %q: the postgres metastore is not built yet", redactURL(rawURL))
	default:
		return nil, fmt.Errorf("metastore URL %q: unknown scheme %q (supported: sqlite)", redactURL(rawURL), scheme)
	}
}

// OpenObjectStore opens the object store a URL names: file://DIR.
func OpenObjectStore(ctx context.Context, rawURL string) (objstore.Store, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, fmt.Errorf("object store URL %q: want scheme://..., e.g. file://strata-data/objects", rawURL)
	}
	switch scheme {
	case "file":
		if u, err := url.Parse(rawURL); err == nil && u.RawQuery != "" {
			return nil, fmt.Errorf("object store URL %q: file URLs take no parameters", rawURL)
		}
		if rest == "" {
			return nil, fmt.Errorf("object store URL %q: empty directory", rawURL)
		}
		s, err := fs.Open(rest)
		if err != nil {
			return nil, err
		}
		return s, nil
	case "s3":
		s, err := s3.Open(ctx, rawURL)
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		return nil, fmt.Errorf("object store URL %q: unknown scheme %q (supported: file)", rawURL, scheme)
	}
}
