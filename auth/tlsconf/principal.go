package tlsconf

import (
	"crypto/x509"
	"fmt"
	"regexp"
	"strings"
)

// PrincipalMapper maps a certificate subject to a Kafka principal with
// rules in the form of Kafka's ssl.principal.mapping.rules: a comma-
// separated list of "RULE:pattern/replacement/" (optionally ending in L or
// U to lower- or upper-case the result) and "DEFAULT". The subject is the
// distinguished name in RFC 2253 form, most specific first
// ("CN=alice,OU=eng,O=Acme"); the first rule whose pattern matches all of
// it gives the principal's name; DEFAULT (also when no rule matches) is
// the DN itself.
type PrincipalMapper struct {
	rules []rule
}

type rule struct {
	def  bool
	re   *regexp.Regexp
	repl string
	kase byte // 0, 'L' or 'U'
}

// ParseRules parses a rule list; "" is DEFAULT.
func ParseRules(s string) (*PrincipalMapper, error) {
	m := &PrincipalMapper{}
	rest := strings.TrimSpace(s)
	for rest != "" {
		switch {
		case strings.HasPrefix(rest, "DEFAULT"):
			m.rules = append(m.rules, rule{def: true})
			rest = rest[len("DEFAULT"):]
		case strings.HasPrefix(rest, "RULE:"):
			r, n, err := parseRule(rest[len("RULE:"):])
			if err != nil {
				return nil, fmt.Errorf("ssl-principal-mapping-rules %q: %v", s, err)
			}
			m.rules = append(m.rules, r)
			rest = rest[len("RULE:")+n:]
		default:
			return nil, fmt.Errorf("ssl-principal-mapping-rules %q: want RULE:pattern/replacement/[LU] or DEFAULT at %q", s, rest)
		}
		rest = strings.TrimSpace(rest)
		if rest == "" {
			break
		}
		if rest[0] != ',' {
			return nil, fmt.Errorf("ssl-principal-mapping-rules %q: rules are separated by commas", s)
		}
		rest = strings.TrimSpace(rest[1:])
	}
	return m, nil
}

// parseRule reads "pattern/replacement/[LU]" (a slash inside is written
// \/) and returns how many bytes it took.
func parseRule(s string) (rule, int, error) {
	var parts [2]string
	i := 0
	for p := 0; p < 2; p++ {
		var b strings.Builder
		for {
			if i >= len(s) {
				return rule{}, 0, fmt.Errorf("unterminated rule")
			}
			if s[i] == '\\' && i+1 < len(s) && s[i+1] == '/' {
				b.WriteByte('/')
				i += 2
				continue
			}
			if s[i] == '/' {
				i++
				break
			}
			b.WriteByte(s[i])
			i++
		}
		parts[p] = b.String()
	}
	r := rule{repl: parts[1]}
	if i < len(s) && (s[i] == 'L' || s[i] == 'U') {
		r.kase = s[i]
		i++
	}
	re, err := regexp.Compile("^(?:" + parts[0] + ")$")
	if err != nil {
		return rule{}, 0, err
	}
	r.re = re
	return r, i, nil
}

// Name maps a distinguished name.
func (m *PrincipalMapper) Name(dn string) string {
	for _, r := range m.rules {
		if r.def {
			return dn
		}
		if !r.re.MatchString(dn) {
			continue
		}
		out := r.re.ReplaceAllString(dn, r.repl)
		switch r.kase {
		case 'L':
			out = strings.ToLower(out)
		case 'U':
			out = strings.ToUpper(out)
		}
		return out
	}
	return dn
}

// Principal is "User:" and the mapped subject of cert.
func (m *PrincipalMapper) Principal(cert *x509.Certificate) string {
	return "User:" + m.Name(cert.Subject.String())
}
