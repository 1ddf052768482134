package redact

import (
	"net/url"
	"strings"
)

// mask replaces every hidden value. It is the mask url.URL.Redacted uses.
const mask = "xxxxx"

// unparseable stands for a URL that could not be taken apart.
const unparseable = "<unparseable URL>"

// URL returns s with its secrets masked (see the package comment): the
// userinfo password and secret-looking parameters of a URL, or the
// secret-looking values of a key=value DSN.
func URL(s string) string {
	if !strings.Contains(s, "://") && strings.Contains(s, "=") {
		return dsn(s)
	}
	u, err := url.Parse(s)
	if err != nil {
		// url.Parse's error quotes the input, so do not use it either.
		return unparseable
	}
	changed := false
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), mask)
		changed = true
	}
	if q, ok := query(u.RawQuery); ok {
		u.RawQuery = q
		changed = true
	}
	if !changed {
		return s
	}
	return u.String()
}

// secretName reports whether a parameter name says its value is secret.
func secretName(name string) bool {
	name = strings.ToLower(name)
	for _, w := range []string{"password", "secret", "token", "key"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// query masks the secret parameters of a raw query, keeping the order and
// escaping of the rest (url.Values.Encode would sort and re-escape them),
// and reports whether it masked any.
func query(raw string) (string, bool) {
	if raw == "" {
		return raw, false
	}
	parts := strings.Split(raw, "&")
	changed := false
	for i, p := range parts {
		k, _, hasValue := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if hasValue && secretName(name) {
			parts[i] = k + "=" + mask
			changed = true
		}
	}
	return strings.Join(parts, "&"), changed
}

// dsn masks the secret values of a libpq key=value connection string
// ("host=h password='p w' sslmode=require"). Values may be single-quoted,
// with backslash escapes, as libpq allows.
func dsn(s string) string {
	var b strings.Builder
	changed := false
	i := 0
	for i < len(s) {
		// Copy the white space and the key up to '='.
		j := i
		for j < len(s) && s[j] != '=' {
			j++
		}
		if j == len(s) {
			b.WriteString(s[i:])
			break
		}
		key := strings.TrimSpace(s[i:j])
		b.WriteString(s[i : j+1])
		j++
		// Skip white space between '=' and the value.
		for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
			b.WriteByte(s[j])
			j++
		}
		// The value runs to the closing quote or the next white space.
		end := j
		if end < len(s) && s[end] == '\'' {
			end++
			for end < len(s) && s[end] != '\'' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			end = min(end+1, len(s))
		} else {
			for end < len(s) && s[end] != ' ' && s[end] != '\t' && s[end] != '\n' {
				end++
			}
		}
		if secretName(key) {
			b.WriteString(mask)
			changed = true
		} else {
			b.WriteString(s[j:end])
		}
		i = end
	}
	if !changed {
		return s
	}
	return b.String()
}
