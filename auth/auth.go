// Package auth authenticates Kafka clients: the SASL mechanisms PLAIN,
// SCRAM-SHA-256 and SCRAM-SHA-512 (the SCRAM logic is auth/scram, the TLS
// set-up auth/tlsconf), a limiter of failed attempts per source address,
// and Kafka principals ("User:alice").
//
// # Basics
//
// An Authenticator knows the enabled mechanisms and where credentials are
// stored. Start begins one SASL exchange; the Session's Step takes each
// client token and answers the server's, until done. Every failure of the
// client is ErrAuthFailed: an unknown user and a wrong password cannot be
// told apart, by message or by the work done (an unknown user is checked
// against a decoy credential).
//
// # Caveats
//
// PLAIN is checked against the stored SCRAM credentials (SCRAM-SHA-512
// first, then SCRAM-SHA-256), so it costs a PBKDF2 derivation per attempt.
package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/stratalog/strata/auth/scram"
)

// Anonymous is the principal of a connection that did not authenticate.
const Anonymous = "User:ANONYMOUS"

// Mechanism names.
const (
	Plain       = "PLAIN"
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
)

var (
	// ErrAuthFailed is every authentication failure caused by the client.
	ErrAuthFailed = errors.New("auth: authentication failed")
	// ErrUnsupportedMechanism is a mechanism that is not enabled.
	ErrUnsupportedMechanism = errors.New("auth: unsupported SASL mechanism")
)

// CredentialStore is where SCRAM credentials live (the metastore).
type CredentialStore interface {
	// ScramCredential returns user's credential for mechanism; ok false
	// when there is none.
	ScramCredential(ctx context.Context, user, mechanism string) (c scram.Credential, ok bool, err error)
}

// ParseMechanisms parses a comma-separated mechanism list (Kafka's
// sasl.enabled.mechanisms).
func ParseMechanisms(list string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, m := range strings.Split(list, ",") {
		m = strings.TrimSpace(m)
		if m == "" {
			continue
		}
		switch m {
		case Plain, ScramSHA256, ScramSHA512:
		default:
			return nil, fmt.Errorf("sasl mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", m)
		}
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no SASL mechanism enabled")
	}
	return out, nil
}

// Authenticator starts SASL exchanges. Safe for concurrent use.
type Authenticator struct {
	mechanisms []string
	store      CredentialStore
	secret     []byte
}

// NewAuthenticator returns an Authenticator for the given mechanisms
// (checked by ParseMechanisms) over store.
func NewAuthenticator(mechanisms []string, store CredentialStore) *Authenticator {
	secret := make([]byte, 32)
	rand.Read(secret)
	return &Authenticator{mechanisms: mechanisms, store: store, secret: secret}
}

// Mechanisms lists the enabled mechanisms, in configured order.
func (a *Authenticator) Mechanisms() []string { return a.mechanisms }

// Enabled reports whether mechanism is enabled.
func (a *Authenticator) Enabled(mechanism string) bool {
	for _, m := range a.mechanisms {
		if m == mechanism {
			return true
		}
	}
	return false
}

// Session is one SASL exchange.
type Session interface {
	// Step takes the client's next token and returns the server's answer;
	// done once authenticated. A client failure is ErrAuthFailed (wrapped
	// with a reason for logs only).
	Step(ctx context.Context, token []byte) (resp []byte, done bool, err error)
	// Principal is the authenticated principal once done.
	Principal() string
}

// Start begins an exchange with mechanism.
func (a *Authenticator) Start(mechanism string) (Session, error) {
	if !a.Enabled(mechanism) {
		return nil, fmt.Errorf("%w: %s", ErrUnsupportedMechanism, mechanism)
	}
	if mechanism == Plain {
		return &plainSession{a: a}, nil
	}
	m, _ := scram.ByName(mechanism)
	return &scramSession{a: a, m: m}, nil
}

type scramSession struct {
	a   *Authenticator
	m   scram.Mechanism
	srv *scram.Server
}

func (s *scramSession) Step(ctx context.Context, token []byte) ([]byte, bool, error) {
	if s.srv == nil {
		s.srv = scram.NewServer(s.m, func(user string) (scram.Credential, bool, error) {
			return s.a.store.ScramCredential(ctx, user, s.m.Name)
		}, s.a.secret)
	}
	resp, done, err := s.srv.Step(token)
	if errors.Is(err, scram.ErrAuthFailed) {
		err = fmt.Errorf("%w: %v", ErrAuthFailed, err)
	}
	return resp, done, err
}

func (s *scramSession) Principal() string { return "User:" + s.srv.User() }

type plainSession struct {
	a    *Authenticator
	user string
	used bool
}

// Step checks "authzid NUL authcid NUL password" (RFC 4616).
func (s *plainSession) Step(ctx context.Context, token []byte) ([]byte, bool, error) {
	if s.used {
		return nil, false, fmt.Errorf("%w: PLAIN takes one message", ErrAuthFailed)
	}
	s.used = true
	parts := strings.Split(string(token), "\x00")
	if len(parts) != 3 || parts[1] == "" || len(token) > 4096 {
		return nil, false, fmt.Errorf("%w: malformed PLAIN message", ErrAuthFailed)
	}
	authz, user, pass := parts[0], parts[1], parts[2]
	if authz != "" && authz != user {
		return nil, false, fmt.Errorf("%w: authorization id differs from user name", ErrAuthFailed)
	}
	for _, m := range []scram.Mechanism{scram.SHA512, scram.SHA256} {
		c, ok, err := s.a.store.ScramCredential(ctx, user, m.Name)
		if err != nil {
			return nil, false, fmt.Errorf("auth: credential lookup: %w", err)
		}
		if ok {
			if !m.VerifyPassword(c, []byte(pass)) {
				return nil, false, fmt.Errorf("%w: invalid credentials", ErrAuthFailed)
			}
			s.user = user
			return nil, true, nil
		}
	}
	// Unknown: the same derivation against a decoy, so the answer takes as
	// long as for a wrong password.
	scram.SHA512.VerifyPassword(scram.SHA512.Decoy(s.a.secret, user), []byte(pass))
	return nil, false, fmt.Errorf("%w: invalid credentials", ErrAuthFailed)
}

func (s *plainSession) Principal() string { return "User:" + s.user }
