// Package tlsconf builds the agent's server TLS configuration (TLS 1.2 and
// later, Go's crypto/tls): a certificate reloaded when its files change,
// optional client certificates (mTLS), and the mapping of a client
// certificate's subject to a Kafka principal, after Kafka's
// ssl.principal.mapping.rules.
//
// # Basics
//
// New reads the certificate and key once (a bad pair fails at start) and
// returns a *tls.Config whose GetCertificate looks at the files' size and
// modification time at most once a second and loads them again when they
// changed; a pair that does not load keeps the previous certificate and
// is logged. The client CA file is reloaded the same way.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Config is what New needs.
type Config struct {
	// CertFile and KeyFile are the PEM certificate (chain) and key.
	CertFile, KeyFile string
	// ClientCAFile holds the PEM CAs client certificates are verified
	// against; required unless ClientAuth is "none".
	ClientCAFile string
	// ClientAuth is "none" (default), "requested" (verified if given) or
	// "required".
	ClientAuth string
	// Logger receives reload failures. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock for the reload check. Default time.Now.
	Now func() time.Time
}

// ParseClientAuth maps "none", "requested", "required" to crypto/tls.
func ParseClientAuth(s string) (tls.ClientAuthType, error) {
	switch s {
	case "", "none":
		return tls.NoClientCert, nil
	case "requested":
		return tls.VerifyClientCertIfGiven, nil
	case "required":
		return tls.RequireAndVerifyClientCert, nil
	}
	return 0, fmt.Errorf("tls-client-auth %q: want required, requested or none", s)
}

// New returns the server TLS configuration.
func New(cfg Config) (*tls.Config, error) {
	if cfg.CertFile == "" || cfg.KeyFile == "" {
		return nil, errors.New("tls: tls-cert-file and tls-key-file are required for SSL and SASL_SSL listeners")
	}
	auth, err := ParseClientAuth(cfg.ClientAuth)
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &reloader{cfg: cfg}
	if err := r.load(); err != nil {
		return nil, err
	}
	tc := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.get,
		ClientAuth:     auth,
	}
	if auth != tls.NoClientCert {
		if cfg.ClientCAFile == "" {
			return nil, errors.New("tls: tls-client-auth " + cfg.ClientAuth + " needs tls-client-ca-file")
		}
		pool, err := loadPool(cfg.ClientCAFile)
		if err != nil {
			return nil, err
		}
		st, _ := stamp(cfg.ClientCAFile)
		tc.ClientCAs = pool
		r.mu.caStamp, r.mu.caConfig = st, tc
		// The CA file is reloaded like the certificate: each handshake
		// takes the configuration with the current pool.
		base := tc
		tc = base.Clone()
		tc.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return r.clientCAs(base), nil }
	}
	return tc, nil
}

func loadPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tls: client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls: client CA %s: no PEM certificate", path)
	}
	return pool, nil
}

// clientCAs returns the configuration with the current client CA pool,
// reloading the CA file at most once a second when it changed.
func (r *reloader) clientCAs(base *tls.Config) *tls.Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.cfg.Now()
	if now.Sub(r.mu.caChecked) < time.Second {
		return r.mu.caConfig
	}
	r.mu.caChecked = now
	st, err := stamp(r.cfg.ClientCAFile)
	if err != nil || st == r.mu.caStamp {
		return r.mu.caConfig
	}
	pool, err := loadPool(r.cfg.ClientCAFile)
	if err != nil {
		r.cfg.Logger.Warn("tls client CA reload failed; keeping the previous one", "ca", r.cfg.ClientCAFile, "err", err)
		return r.mu.caConfig
	}
	c := base.Clone()
	c.ClientCAs = pool
	r.mu.caConfig, r.mu.caStamp = c, st
	r.cfg.Logger.Info("tls client CA reloaded", "ca", r.cfg.ClientCAFile)
	return c
}

// reloader serves the current certificate, reloading it when its files
// change.
type reloader struct {
	cfg Config
	mu  struct {
		sync.Mutex
		cert    *tls.Certificate
		stamp   string // size and mtime of both files at the last load
		checked time.Time
		// The client CA file's: the configuration handshakes use.
		caConfig  *tls.Config
		caStamp   string
		caChecked time.Time
	}
}

func stamp(paths ...string) (string, error) {
	s := ""
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return "", err
		}
		s += fmt.Sprintf("%d/%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return s, nil
}

func (r *reloader) load() error {
	st, err := stamp(r.cfg.CertFile, r.cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(r.cfg.CertFile, r.cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	r.mu.Lock()
	r.mu.cert, r.mu.stamp = &cert, st
	r.mu.Unlock()
	return nil
}

func (r *reloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.cfg.Now()
	if now.Sub(r.mu.checked) < time.Second {
		return r.mu.cert, nil
	}
	r.mu.checked = now
	st, err := stamp(r.cfg.CertFile, r.cfg.KeyFile)
	if err != nil || st == r.mu.stamp {
		return r.mu.cert, nil
	}
	cert, err := tls.LoadX509KeyPair(r.cfg.CertFile, r.cfg.KeyFile)
	if err != nil {
		// Often a half-written pair (the certificate replaced before the
		// key): keep serving the old one and look again next time.
		r.cfg.Logger.Warn("tls certificate reload failed; keeping the previous one", "cert", r.cfg.CertFile, "err", err)
		return r.mu.cert, nil
	}
	r.mu.cert, r.mu.stamp = &cert, st
	r.cfg.Logger.Info("tls certificate reloaded", "cert", r.cfg.CertFile)
	return r.mu.cert, nil
}
