package scram

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// Lookup returns the stored credential of user for the conversation's
// mechanism; ok false when there is none. An error fails the
// conversation (the caller tells a backend failure apart by it).
type Lookup func(user string) (c Credential, ok bool, err error)

// Server is one server-side conversation. Not safe for concurrent use.
type Server struct {
	m      Mechanism
	lookup Lookup
	secret []byte // decoy credentials for unknown users
	nonce  func() string

	step      int
	first     ClientFirst
	cred      Credential
	known     bool
	nonceAll  string
	firstResp string
	user      string
}

// NewServer starts a conversation. secret keys the decoy credentials of
// unknown users; it should be random per process.
func NewServer(m Mechanism, lookup Lookup, secret []byte) *Server {
	return &Server{m: m, lookup: lookup, secret: secret, nonce: randomNonce}
}

func randomNonce() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawStdEncoding.EncodeToString(b)
}

// User is the authenticated user once Step reported done.
func (s *Server) User() string { return s.user }

// Step takes the client's next message and returns the server's answer;
// done is true with the server-final message. Every client failure is
// ErrAuthFailed (wrapped with the reason, which is for logs, never for the
// client); a Lookup error is returned wrapped as it is.
func (s *Server) Step(msg []byte) (resp []byte, done bool, err error) {
	switch s.step {
	case 0:
		s.step = 1
		return s.stepFirst(msg)
	case 1:
		s.step = 2
		return s.stepFinal(msg)
	}
	return nil, false, fmt.Errorf("%w: conversation already ended", ErrAuthFailed)
}

func (s *Server) stepFirst(msg []byte) ([]byte, bool, error) {
	cf, err := ParseClientFirst(msg)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrAuthFailed, err)
	}
	if cf.AuthzID != "" && cf.AuthzID != cf.User {
		return nil, false, fmt.Errorf("%w: authorization id differs from user name", ErrAuthFailed)
	}
	if _, ok := cf.Extensions["tokenauth"]; ok {
		return nil, false, fmt.Errorf("%w: delegation tokens are not supported", ErrAuthFailed)
	}
	s.first = cf
	cred, ok, err := s.lookup(cf.User)
	if err != nil {
		return nil, false, fmt.Errorf("scram: credential lookup: %w", err)
	}
	if !ok {
		cred = s.m.Decoy(s.secret, cf.User)
	}
	s.cred, s.known = cred, ok
	s.nonceAll = cf.Nonce + s.nonce()
	s.firstResp = "r=" + s.nonceAll + ",s=" + base64.StdEncoding.EncodeToString(cred.Salt) + ",i=" + strconv.Itoa(cred.Iterations)
	return []byte(s.firstResp), false, nil
}

func (s *Server) stepFinal(msg []byte) ([]byte, bool, error) {
	cf, err := ParseClientFinal(msg)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrAuthFailed, err)
	}
	if string(cf.ChannelBinding) != s.first.GS2Header {
		return nil, false, fmt.Errorf("%w: channel binding does not match the gs2 header", ErrAuthFailed)
	}
	// Kafka's rule: the client's nonce must end with the combined one.
	// librdkafka sends its own nonce before the combined nonce (which
	// already starts with it); the server's part, fresh for this
	// conversation, is what guards against replay, and the AuthMessage
	// covers the nonce as sent.
	if !strings.HasSuffix(cf.Nonce, s.nonceAll) {
		return nil, false, fmt.Errorf("%w: nonce mismatch", ErrAuthFailed)
	}
	authMsg := []byte(s.first.Bare + "," + s.firstResp + "," + cf.WithoutProof)
	sig := s.m.hmac(s.cred.StoredKey, authMsg)
	if len(cf.Proof) != len(sig) {
		return nil, false, fmt.Errorf("%w: proof of %d bytes", ErrAuthFailed, len(cf.Proof))
	}
	clientKey := make([]byte, len(sig))
	for i := range sig {
		clientKey[i] = cf.Proof[i] ^ sig[i]
	}
	if !hmac.Equal(s.m.sum(clientKey), s.cred.StoredKey) || !s.known {
		return nil, false, fmt.Errorf("%w: invalid credentials", ErrAuthFailed)
	}
	s.user = s.first.User
	verifier := s.m.hmac(s.cred.ServerKey, authMsg)
	return []byte("v=" + base64.StdEncoding.EncodeToString(verifier)), true, nil
}
