package s3

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stratalog/strata/tiering/objstore/internal/objkey"
)

// ErrInvalidURL is returned (wrapped, with the reason) by Open for a URL it
// cannot use.
var ErrInvalidURL = errors.New("s3: invalid URL")

// defaultTimeout bounds each HTTP attempt when the URL sets no timeout. It
// is generous because one attempt may carry a whole large object.
const defaultTimeout = 2 * time.Minute

// location is what an s3:// URL names.
type location struct {
	bucket    string
	prefix    string // "" or ends in "/"
	endpoint  string // "" means AWS S3
	region    string // "" means the AWS configuration decides
	pathStyle bool
	timeout   time.Duration
	// unsignedPayload: request bodies are not hashed for the signature
	// (see the package doc); by default over https and to a loopback
	// address.
	unsignedPayload bool
}

// parseURL parses and checks an s3:// URL; see the package doc.
func parseURL(rawURL string) (location, error) {
	var loc location
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error quotes the URL, which may hold a secret; say only why.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return loc, fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	if u.Scheme != "s3" {
		return loc, fmt.Errorf("%w: scheme is %q, want s3://BUCKET/PREFIX", ErrInvalidURL, u.Scheme)
	}
	if u.User != nil {
		return loc, fmt.Errorf("%w: it must not hold credentials; use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or another source of the AWS credential chain", ErrInvalidURL)
	}
	if u.Opaque != "" {
		return loc, fmt.Errorf("%w %q: want s3://BUCKET/PREFIX", ErrInvalidURL, rawURL)
	}
	if u.Fragment != "" {
		return loc, fmt.Errorf("%w %q: unexpected fragment", ErrInvalidURL, rawURL)
	}
	loc.bucket = u.Host
	if loc.bucket == "" {
		return loc, fmt.Errorf("%w %q: missing bucket, want s3://BUCKET/PREFIX", ErrInvalidURL, rawURL)
	}
	if reason := checkBucket(loc.bucket); reason != "" {
		return loc, fmt.Errorf("%w %q: bad bucket name %q: %s", ErrInvalidURL, rawURL, loc.bucket, reason)
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		if reason := objkey.Check(p); reason != "" {
			return loc, fmt.Errorf("%w %q: bad prefix %q: %s", ErrInvalidURL, rawURL, p, reason)
		}
		loc.prefix = p + "/"
	}

	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return loc, fmt.Errorf("%w %q: bad query: %v", ErrInvalidURL, rawURL, err)
	}
	loc.timeout = defaultTimeout
	unsigned := ""
	for name, values := range q {
		if len(values) != 1 {
			return loc, fmt.Errorf("%w %q: parameter %q given %d times", ErrInvalidURL, rawURL, name, len(values))
		}
		v := values[0]
		switch name {
		case "endpoint":
			if strings.Contains(v, "@") {
				return loc, fmt.Errorf("%w: the endpoint must not hold credentials; use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or another source of the AWS credential chain", ErrInvalidURL)
			}
			if err := checkEndpoint(v); err != nil {
				return loc, fmt.Errorf("%w %q: bad endpoint %q: %v", ErrInvalidURL, rawURL, v, err)
			}
			loc.endpoint = strings.TrimSuffix(v, "/")
		case "region":
			if v == "" {
				return loc, fmt.Errorf("%w %q: empty region", ErrInvalidURL, rawURL)
			}
			loc.region = v
		case "path_style":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return loc, fmt.Errorf("%w %q: path_style=%q: want true or false", ErrInvalidURL, rawURL, v)
			}
			loc.pathStyle = b
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return loc, fmt.Errorf("%w %q: timeout=%q: want a positive duration such as 30s", ErrInvalidURL, rawURL, v)
			}
			loc.timeout = d
		case "unsigned_payload":
			if _, err := strconv.ParseBool(v); err != nil {
				return loc, fmt.Errorf("%w %q: unsigned_payload=%q: want true or false", ErrInvalidURL, rawURL, v)
			}
			unsigned = v
		default:
			return loc, fmt.Errorf("%w %q: unknown parameter %q (known: endpoint, region, path_style, timeout, unsigned_payload)", ErrInvalidURL, rawURL, name)
		}
	}
	if unsigned != "" {
		loc.unsignedPayload, _ = strconv.ParseBool(unsigned)
	} else {
		loc.unsignedPayload = unsignedByDefault(loc.endpoint)
	}
	return loc, nil
}

// unsignedByDefault reports whether bodies sent to endpoint go unsigned
// when the URL does not say: over https (AWS S3 when endpoint is ""), TLS
// protects them in transit; to a loopback address nothing is in between.
// Over plain http to any other host, SigV4's SHA-256 of the body is all
// that keeps it from being changed on the way, so it stays.
func unsignedByDefault(endpoint string) bool {
	if endpoint == "" {
		return true
	}
	e, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	if e.Scheme == "https" {
		return true
	}
	host := e.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkEndpoint accepts an absolute http or https URL with a host and
// nothing after it but an optional "/".
func checkEndpoint(v string) error {
	e, err := url.Parse(v)
	if err != nil {
		return err
	}
	switch {
	case e.Scheme != "http" && e.Scheme != "https":
		return fmt.Errorf("want http:// or https://")
	case e.Host == "" || e.Hostname() == "":
		return fmt.Errorf("missing host")
	case e.Path != "" && e.Path != "/", e.RawQuery != "", e.Fragment != "":
		return fmt.Errorf("want scheme://host[:port] only")
	}
	if p := e.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("bad port %q", p)
		}
	}
	return nil
}

// checkBucket returns "" if name follows the S3 bucket naming rules that
// matter for addressing (3 to 63 lowercase letters, digits, '.' and '-',
// starting and ending with a letter or digit), or the reason it does not.
func checkBucket(name string) string {
	if len(name) < 3 || len(name) > 63 {
		return "want 3 to 63 characters"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '.' || c == '-':
			if i == 0 || i == len(name)-1 {
				return "must start and end with a letter or digit"
			}
		default:
			return fmt.Sprintf("character %q not allowed (lowercase letters, digits, '.', '-')", c)
		}
	}
	return ""
}
