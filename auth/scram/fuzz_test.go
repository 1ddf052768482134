package scram

import (
	"errors"
	"testing"
)

// FuzzConversation feeds arbitrary client messages to both steps of a
// conversation: only ErrAuthFailed, never a panic, and a success only for
// the known user.
func FuzzConversation(f *testing.F) {
	f.Add([]byte("n,,n=user,r=abc"), []byte("c=biws,r=abcxyz,p=AAAA"))
	f.Add([]byte("n,a=user,n=user,r=a,ext=1"), []byte("c=bixxxws,r=a,p="))
	f.Add([]byte("y,,n==2C=3D,r=="), []byte(",p=,p=,p=AA=="))
	cred := SHA256.CredentialFromSalted(SHA256.SaltedPassword([]byte("pw"), []byte("salt"), 4096), []byte("salt"), 4096)
	f.Fuzz(func(t *testing.T, first, final []byte) {
		ParseClientFirst(first)
		ParseClientFinal(final)
		s := NewServer(SHA256, func(u string) (Credential, bool, error) { return cred, u == "user", nil }, []byte("k"))
		s.nonce = func() string { return "xyz" }
		if _, _, err := s.Step(first); err != nil {
			if !errors.Is(err, ErrAuthFailed) {
				t.Fatalf("first: %v", err)
			}
			return
		}
		_, done, err := s.Step(final)
		if err != nil && !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("final: %v", err)
		}
		if done && s.User() != "user" {
			t.Fatalf("authenticated %q", s.User())
		}
	})
}
