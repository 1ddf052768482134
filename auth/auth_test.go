package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stratalog/strata/auth/scram"
)

type memStore map[string]scram.Credential // user/mechanism

func (m memStore) ScramCredential(_ context.Context, user, mech string) (scram.Credential, bool, error) {
	c, ok := m[user+"/"+mech]
	return c, ok, nil
}

func TestPlain(t *testing.T) {
	store := memStore{
		"alice/SCRAM-SHA-512": scram.SHA512.NewCredential([]byte("pw512"), 4096),
		"bob/SCRAM-SHA-256":   scram.SHA256.NewCredential([]byte("pw256"), 4096),
	}
	a := NewAuthenticator([]string{Plain, ScramSHA256}, store)
	cases := []struct {
		token string
		ok    bool
		who   string
	}{
		{"\x00alice\x00pw512", true, "User:alice"},
		{"alice\x00alice\x00pw512", true, "User:alice"},
		{"\x00bob\x00pw256", true, "User:bob"},
		{"\x00alice\x00pw256", false, ""},
		{"\x00nobody\x00pw512", false, ""},
		{"bob\x00alice\x00pw512", false, ""},
		{"alice\x00pw512", false, ""},
		{"\x00\x00pw", false, ""},
	}
	for _, tc := range cases {
		s, err := a.Start(Plain)
		if err != nil {
			t.Fatal(err)
		}
		_, done, err := s.Step(context.Background(), []byte(tc.token))
		if tc.ok != (err == nil && done) || (!tc.ok && !errors.Is(err, ErrAuthFailed)) {
			t.Errorf("%q: done %v err %v", tc.token, done, err)
		}
		if tc.ok && s.Principal() != tc.who {
			t.Errorf("%q: principal %q", tc.token, s.Principal())
		}
	}
	if _, err := a.Start(ScramSHA512); !errors.Is(err, ErrUnsupportedMechanism) {
		t.Fatalf("disabled mechanism: %v", err)
	}
}

func TestParseMechanisms(t *testing.T) {
	got, err := ParseMechanisms(" SCRAM-SHA-256, PLAIN,PLAIN ")
	if err != nil || len(got) != 2 || got[0] != ScramSHA256 || got[1] != Plain {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"", "GSSAPI", "OAUTHBEARER"} {
		if _, err := ParseMechanisms(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestLimiter(t *testing.T) {
	l := NewLimiter(time.Hour, 3)
	for i := 0; i < 3; i++ {
		if !l.Allow("10.0.0.1") {
			t.Fatalf("attempt %d refused", i)
		}
		l.Failed("10.0.0.1")
	}
	if l.Allow("10.0.0.1") {
		t.Fatal("fourth attempt allowed after three failures")
	}
	if !l.Allow("10.0.0.2") {
		t.Fatal("another address refused")
	}
	if !NewLimiter(0, 1).Allow("x") {
		t.Fatal("disabled limiter refused")
	}
}

// FuzzPlain: any PLAIN token is answered with success only for the right
// password, else ErrAuthFailed; never a panic.
func FuzzPlain(f *testing.F) {
	cred := scram.SHA256.CredentialFromSalted(scram.SHA256.SaltedPassword([]byte("pw"), []byte("salt"), 4096), []byte("salt"), 4096)
	store := memStore{"u/SCRAM-SHA-256": cred}
	a := NewAuthenticator([]string{Plain}, store)
	f.Add([]byte("\x00u\x00pw"))
	f.Add([]byte("u\x00u\x00pw\x00"))
	f.Add([]byte("\x00\x00"))
	f.Fuzz(func(t *testing.T, token []byte) {
		s, _ := a.Start(Plain)
		_, done, err := s.Step(context.Background(), token)
		if err != nil && !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("error %v", err)
		}
		if done {
			parts := strings.Split(string(token), "\x00")
			if s.Principal() != "User:u" || parts[len(parts)-1] != "pw" {
				t.Fatalf("authenticated %q with %q", s.Principal(), token)
			}
		}
	})
}
