package open

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/stratalog/strata/internal/redact"
	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/metastore/postgres"
	"github.com/stratalog/strata/metastore/sqlite"
)

// ErrBadURL marks a metastore URL that is malformed or names an
// unsupported backend: a configuration error, not an outage.
var ErrBadURL = errors.New("metastore/open: bad metastore URL")

// Metastore opens the metastore the URL names and brings its schema up to
// date.
func Metastore(ctx context.Context, rawURL string) (metastore.Store, error) {
	b, err := parse(rawURL)
	if err != nil {
		return nil, err
	}
	return b.open(ctx)
}

// Migrate applies the migrations the metastore the URL names has not seen
// and returns those it applied (none when it was up to date).
func Migrate(ctx context.Context, rawURL string) ([]metastore.Migration, error) {
	b, err := parse(rawURL)
	if err != nil {
		return nil, err
	}
	return b.migrate(ctx)
}

// MigrationStatus lists the migrations of the metastore the URL names,
// applied or pending, changing nothing (see sqlite.MigrationStatus and
// postgres.MigrationStatus).
func MigrationStatus(ctx context.Context, rawURL string) ([]metastore.Migration, error) {
	b, err := parse(rawURL)
	if err != nil {
		return nil, err
	}
	return b.status(ctx)
}

// CheckURL reports whether the URL names a supported backend, without
// connecting to it: ErrBadURL if not.
func CheckURL(rawURL string) error {
	_, err := parse(rawURL)
	return err
}

// backend is what the package can do with one metastore.
type backend struct {
	open    func(ctx context.Context) (metastore.Store, error)
	migrate func(ctx context.Context) ([]metastore.Migration, error)
	status  func(ctx context.Context) ([]metastore.Migration, error)
}

// parse picks the backend by URL scheme.
func parse(rawURL string) (backend, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return backend{}, fmt.Errorf("%w: metastore URL %q: want scheme://..., e.g. sqlite://strata-data/meta.db", ErrBadURL, redact.URL(rawURL))
	}
	switch scheme {
	case "sqlite":
		path, _, _ := strings.Cut(rest, "?")
		if path == "" {
			return backend{}, fmt.Errorf("%w: metastore URL %q: empty path", ErrBadURL, redact.URL(rawURL))
		}
		return backend{
			open: func(ctx context.Context) (metastore.Store, error) {
				s, err := sqlite.Open(ctx, path)
				if err != nil {
					// Not s itself: a nil *Store in an interface is not nil.
					return nil, err
				}
				return s, nil
			},
			migrate: func(ctx context.Context) ([]metastore.Migration, error) { return sqlite.Migrate(ctx, path) },
			status:  func(ctx context.Context) ([]metastore.Migration, error) { return sqlite.MigrationStatus(ctx, path) },
		}, nil
	case "postgres", "postgresql":
		return backend{
			open: func(ctx context.Context) (metastore.Store, error) {
				s, err := postgres.Open(ctx, rawURL, postgres.Options{})
				if err != nil {
					return nil, err
				}
				return s, nil
			},
			migrate: func(ctx context.Context) ([]metastore.Migration, error) { return postgres.Migrate(ctx, rawURL) },
			status:  func(ctx context.Context) ([]metastore.Migration, error) { return postgres.MigrationStatus(ctx, rawURL) },
		}, nil
	default:
		return backend{}, fmt.Errorf("%w: metastore URL %q: unknown scheme %q (supported: sqlite, postgres)", ErrBadURL, redact.URL(rawURL), scheme)
	}
}
