package agent

import (
	"crypto/tls"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/stratalog/strata/agent/kafka"
	"github.com/stratalog/strata/auth"
	"github.com/stratalog/strata/auth/tlsconf"
	"github.com/stratalog/strata/metastore"
)

// listenerSpec is one parsed --listeners entry with its advertised
// address (filled once bound when not configured).
type listenerSpec struct {
	name, protocol string
	bind           string // host:port to bind
	advertise      string // host:port; "" until bound when not configured
}

var listenerName = regexp.MustCompile(`^[A-Z0-9_]+$`)

// parseListenerList parses Kafka's "NAME://host:port,..." form. An empty
// host binds every interface, as in Kafka.
func parseListenerList(what, s string) ([][2]string, error) {
	var out [][2]string
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, addr, ok := strings.Cut(item, "://")
		if !ok {
			return nil, fmt.Errorf("%s %q: want NAME://host:port", what, item)
		}
		name = strings.ToUpper(name)
		if !listenerName.MatchString(name) {
			return nil, fmt.Errorf("%s %q: listener names are letters, digits and _", what, item)
		}
		if _, port, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("%s %q: %v", what, item, err)
		} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return nil, fmt.Errorf("%s %q: bad port %q", what, item, port)
		}
		for _, o := range out {
			if o[0] == name {
				return nil, fmt.Errorf("%s: listener %s named twice", what, name)
			}
		}
		out = append(out, [2]string{name, addr})
	}
	return out, nil
}

func isProtocol(s string) bool {
	switch s {
	case kafka.Plaintext, kafka.SSL, kafka.SASLPlaintext, kafka.SASLSSL:
		return true
	}
	return false
}

// listenerSpecs turns the configuration into listeners: --listeners with
// the protocol map and --advertised-listeners, or else --listen and
// --advertise as one PLAINTEXT listener.
func (c *Config) listenerSpecs() ([]listenerSpec, error) {
	if c.Listeners == "" {
		return []listenerSpec{{name: kafka.Plaintext, protocol: kafka.Plaintext, bind: c.Listen, advertise: c.Advertise}}, nil
	}
	protos := map[string]string{}
	for _, item := range strings.Split(c.ListenerSecurityProtocolMap, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, proto, ok := strings.Cut(item, ":")
		name, proto = strings.ToUpper(strings.TrimSpace(name)), strings.ToUpper(strings.TrimSpace(proto))
		if !ok || !listenerName.MatchString(name) || !isProtocol(proto) {
			return nil, fmt.Errorf("listener-security-protocol-map %q: want NAME:PROTOCOL with PROTOCOL one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL", item)
		}
		protos[name] = proto
	}
	binds, err := parseListenerList("listeners", c.Listeners)
	if err != nil {
		return nil, err
	}
	if len(binds) == 0 {
		return nil, fmt.Errorf("listeners %q: no listener", c.Listeners)
	}
	advs, err := parseListenerList("advertised-listeners", c.AdvertisedListeners)
	if err != nil {
		return nil, err
	}
	var out []listenerSpec
	ports := map[string]string{}
	for _, b := range binds {
		proto, ok := protos[b[0]]
		if !ok && isProtocol(b[0]) {
			proto, ok = b[0], true
		}
		if !ok {
			return nil, fmt.Errorf("listeners: listener %s has no security protocol (name it in listener-security-protocol-map)", b[0])
		}
		if _, port, _ := net.SplitHostPort(b[1]); port != "0" {
			if other, dup := ports[port]; dup {
				return nil, fmt.Errorf("listeners: %s and %s both use port %s", other, b[0], port)
			}
			ports[port] = b[0]
		}
		out = append(out, listenerSpec{name: b[0], protocol: proto, bind: b[1]})
	}
	for _, a := range advs {
		found := false
		for i := range out {
			if out[i].name == a[0] {
				out[i].advertise, found = a[1], true
			}
		}
		if host, _, _ := net.SplitHostPort(a[1]); host == "" || net.ParseIP(host).IsUnspecified() {
			return nil, fmt.Errorf("advertised-listeners %s://%s: a client cannot dial that host", a[0], a[1])
		}
		if !found {
			return nil, fmt.Errorf("advertised-listeners: %s is not in listeners", a[0])
		}
	}
	return out, nil
}

// securityFor builds what the request layer needs for the listeners:
// the TLS configuration (if a listener uses TLS), the principal mapping
// and the SASL authenticator (if a listener uses SASL; auth is nil
// otherwise).
func (c *Config) securityFor(specs []listenerSpec, creds auth.CredentialStore) (*tls.Config, *tlsconf.PrincipalMapper, *auth.Authenticator, error) {
	var (
		tc      *tls.Config
		mapper  *tlsconf.PrincipalMapper
		authn   *auth.Authenticator
		useTLS  bool
		useSASL bool
	)
	for _, s := range specs {
		useTLS = useTLS || s.protocol == kafka.SSL || s.protocol == kafka.SASLSSL
		useSASL = useSASL || s.protocol == kafka.SASLPlaintext || s.protocol == kafka.SASLSSL
	}
	var err error
	if useTLS {
		if tc, err = tlsconf.New(tlsconf.Config{CertFile: c.TLSCertFile, KeyFile: c.TLSKeyFile,
			ClientCAFile: c.TLSClientCAFile, ClientAuth: c.TLSClientAuth, Logger: c.Logger}); err != nil {
			return nil, nil, nil, err
		}
	}
	if mapper, err = tlsconf.ParseRules(c.SSLPrincipalMappingRules); err != nil {
		return nil, nil, nil, err
	}
	if useSASL {
		mechs, err := auth.ParseMechanisms(c.SASLEnabledMechanisms)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("sasl-enabled-mechanisms: %w", err)
		}
		authn = auth.NewAuthenticator(mechs, creds)
	}
	return tc, mapper, authn, nil
}

// warnOpen logs listeners that anyone who reaches them can use: no SASL
// and no required client certificate, bound beyond loopback.
func (c *Config) warnOpen(specs []listenerSpec, bound []net.Listener) {
	for i, s := range specs {
		if s.protocol == kafka.SASLPlaintext || s.protocol == kafka.SASLSSL ||
			(s.protocol == kafka.SSL && c.TLSClientAuth == "required") {
			continue
		}
		if ip := bound[i].Addr().(*net.TCPAddr).IP; ip.IsLoopback() {
			continue
		}
		c.Logger.Warn("listener without authentication on a non-loopback address: anyone who can reach it can read, write and delete every topic",
			"listener", s.name, "protocol", s.protocol, "address", bound[i].Addr().String())
	}
}

// parseSuperUsers splits Kafka's "User:a;User:b" list.
func parseSuperUsers(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ";") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		typ, name, ok := strings.Cut(p, ":")
		if !ok || typ == "" || name == "" {
			return nil, fmt.Errorf("super-users %q: want User:NAME entries separated by ;", p)
		}
		out = append(out, p)
	}
	return out, nil
}

// bindListeners binds every listener and fills in default advertised
// addresses from the bound ones.
func (a *Agent) bindListeners() error {
	specs, err := a.cfg.listenerSpecs()
	if err != nil {
		return err
	}
	for i := range specs {
		ln, err := net.Listen("tcp", specs[i].bind)
		if err != nil {
			return fmt.Errorf("agent: listen %s: %w", specs[i].name, err)
		}
		a.lns = append(a.lns, ln)
		if specs[i].advertise == "" {
			specs[i].advertise = defaultAdvertise(ln.Addr().(*net.TCPAddr))
		}
	}
	a.specs = specs
	return nil
}

// advertised lists the listeners' advertised addresses for the metastore.
func (a *Agent) advertised() []metastore.Listener {
	var out []metastore.Listener
	for _, s := range a.specs {
		host, port, _ := net.SplitHostPort(s.advertise)
		p, _ := strconv.Atoi(port)
		out = append(out, metastore.Listener{Name: s.name, Host: host, Port: int32(p)})
	}
	return out
}

// kafkaListeners builds the request layer's listeners and, when a
// listener uses SASL, the authenticator.
func (a *Agent) kafkaListeners() ([]kafka.Listener, *auth.Authenticator, error) {
	tc, mapper, authn, err := a.cfg.securityFor(a.specs, kafka.NewCredentialStore(a.meta))
	if err != nil {
		return nil, nil, fmt.Errorf("agent: %w", err)
	}
	var out []kafka.Listener
	for _, m := range a.advertised() {
		l := kafka.Listener{Name: m.Name, Host: m.Host, Port: m.Port, Principals: mapper}
		for _, s := range a.specs {
			if s.name == m.Name {
				l.Protocol = s.protocol
			}
		}
		switch l.Protocol {
		case kafka.SSL:
			l.TLS = tc
		case kafka.SASLSSL:
			// As in Kafka (KIP-684), client certificates are for SSL
			// listeners: SASL authenticates SASL_SSL clients.
			l.TLS = tc.Clone()
			l.TLS.ClientAuth, l.TLS.ClientCAs, l.TLS.GetConfigForClient = tls.NoClientCert, nil, nil
		}
		out = append(out, l)
	}
	return out, authn, nil
}

func (a *Agent) authLimiter() *auth.Limiter {
	if a.cfg.AuthFailuresPerMinute < 0 {
		return nil
	}
	return auth.NewLimiter(time.Minute/time.Duration(a.cfg.AuthFailuresPerMinute), a.cfg.AuthFailureBurst)
}

// listenerSummary is "NAME(PROTOCOL) bound -> advertised, ..." for the
// start-up log.
func (a *Agent) listenerSummary() string {
	var b strings.Builder
	for i, s := range a.specs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s(%s) %s advertised %s", s.name, s.protocol, a.lns[i].Addr(), s.advertise)
	}
	return b.String()
}
