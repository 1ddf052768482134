package scram

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	kscram "github.com/twmb/franz-go/pkg/sasl/scram"
)

// The SCRAM-SHA-256 example of RFC 7677 section 3.
func TestRFC7677Vector(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	cred := SHA256.CredentialFromSalted(SHA256.SaltedPassword([]byte("pencil"), salt, 4096), salt, 4096)
	s := NewServer(SHA256, func(user string) (Credential, bool, error) {
		return cred, user == "user", nil
	}, []byte("secret"))
	s.nonce = func() string { return "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0" }
	resp, done, err := s.Step([]byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
	if err != nil || done {
		t.Fatalf("first: %v %v", done, err)
	}
	if want := "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"; string(resp) != want {
		t.Fatalf("server-first = %q, want %q", resp, want)
	}
	resp, done, err = s.Step([]byte("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
	if err != nil || !done {
		t.Fatalf("final: %v %v", done, err)
	}
	if want := "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="; string(resp) != want {
		t.Fatalf("server-final = %q, want %q", resp, want)
	}
	if s.User() != "user" {
		t.Fatalf("user %q", s.User())
	}
}

// converse runs franz-go's SCRAM client against a Server.
func converse(t *testing.T, m Mechanism, user, pass string, lookup Lookup) error {
	t.Helper()
	auth := kscram.Auth{User: user, Pass: pass}
	mech := auth.AsSha256Mechanism()
	if m.Name == SHA512.Name {
		mech = auth.AsSha512Mechanism()
	}
	sess, msg, err := mech.Authenticate(context.Background(), "host:1")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(m, lookup, []byte("secret"))
	for {
		resp, done, err := s.Step(msg)
		if err != nil {
			return err
		}
		cdone, next, err := sess.Challenge(resp)
		if err != nil {
			t.Fatalf("client refused the server's message: %v", err)
		}
		if done {
			if !cdone {
				t.Fatal("server done, client not")
			}
			if s.User() != user {
				t.Fatalf("user %q", s.User())
			}
			return nil
		}
		msg = next
	}
}

func TestConversation(t *testing.T) {
	for _, m := range []Mechanism{SHA256, SHA512} {
		t.Run(m.Name, func(t *testing.T) {
			cred := m.NewCredential([]byte("s3cret"), 4096)
			store := map[string]Credential{"alice": cred, "b,o=b": cred}
			lookup := func(u string) (Credential, bool, error) { c, ok := store[u]; return c, ok, nil }
			if err := converse(t, m, "alice", "s3cret", lookup); err != nil {
				t.Fatalf("good password: %v", err)
			}
			if err := converse(t, m, "b,o=b", "s3cret", lookup); err != nil {
				t.Fatalf("escaped name: %v", err)
			}
			if err := converse(t, m, "alice", "wrong", lookup); !errors.Is(err, ErrAuthFailed) {
				t.Fatalf("wrong password: %v", err)
			}
			if err := converse(t, m, "mallory", "s3cret", lookup); !errors.Is(err, ErrAuthFailed) {
				t.Fatalf("unknown user: %v", err)
			}
			if !m.VerifyPassword(cred, []byte("s3cret")) || m.VerifyPassword(cred, []byte("s3creT")) {
				t.Fatal("VerifyPassword")
			}
		})
	}
}

// An unknown user gets the same salt every time, and a different one from
// another unknown user, so salts reveal nothing.
func TestDecoyStable(t *testing.T) {
	a1, a2, b := SHA512.Decoy([]byte("k"), "ghost"), SHA512.Decoy([]byte("k"), "ghost"), SHA512.Decoy([]byte("k"), "other")
	if string(a1.Salt) != string(a2.Salt) || string(a1.Salt) == string(b.Salt) || a1.Iterations != 4096 {
		t.Fatalf("decoys %x %x %x", a1.Salt, a2.Salt, b.Salt)
	}
}

func TestParseClientFirst(t *testing.T) {
	cases := []struct {
		in   string
		user string
		ok   bool
	}{
		{"n,,n=alice,r=abc", "alice", true},
		{"y,,n=alice,r=abc", "alice", true},
		{"n,a=alice,n=alice,r=abc", "alice", true},
		{"n,,n=a=2Cb=3Dc,r=abc,tokenauth=true", "a,b=c", true},
		{"p=tls-unique,,n=alice,r=abc", "", false},
		{"n,,n=alice", "", false},
		{"n,,r=abc,n=alice", "", false},
		{"n,,n=,r=abc", "", false},
		{"n,,n=a=2Xb,r=abc", "", false},
		{"n,,m=ext,n=alice,r=abc", "", false},
		{"n,,n=alice,r=", "", false},
		{"x,,n=alice,r=abc", "", false},
		{"n,,n=al\x00ice,r=abc", "", false},
		{"", "", false},
	}
	for _, tc := range cases {
		cf, err := ParseClientFirst([]byte(tc.in))
		if (err == nil) != tc.ok || (tc.ok && cf.User != tc.user) {
			t.Errorf("ParseClientFirst(%q) = %+v, %v", tc.in, cf, err)
		}
	}
}

func TestParseClientFinal(t *testing.T) {
	for _, in := range []string{"", "c=biws,r=x", "c=biws,p=AAAA", "c=!!,r=x,p=AAAA", "c=biws,r=x,p=!!", "r=x,c=biws,p=AAAA"} {
		if _, err := ParseClientFinal([]byte(in)); err == nil {
			t.Errorf("ParseClientFinal(%q) accepted", in)
		}
	}
	cf, err := ParseClientFinal([]byte("c=biws,r=xyz,p=AAAA"))
	if err != nil || string(cf.ChannelBinding) != "n,," || cf.Nonce != "xyz" || len(cf.Proof) != 3 {
		t.Fatalf("%+v %v", cf, err)
	}
}

// TestLibrdkafkaNonce: librdkafka's client-final nonce is its own nonce
// followed by the combined one; Kafka accepts a nonce that ends with the
// combined nonce, and so must we (regression: kcat SCRAM failed with
// "nonce mismatch"). A nonce that does not end with it is refused.
func TestLibrdkafkaNonce(t *testing.T) {
	m := SHA512
	salted := m.SaltedPassword([]byte("pw"), []byte("salt"), 4096)
	cred := m.CredentialFromSalted(salted, []byte("salt"), 4096)
	for _, tc := range []struct {
		nonce func(combined string) string
		ok    bool
	}{
		{func(c string) string { return c }, true},
		{func(c string) string { return "cnonce" + c }, true},
		{func(c string) string { return c + "x" }, false},
		{func(c string) string { return "cnonce" }, false},
	} {
		s := NewServer(m, func(string) (Credential, bool, error) { return cred, true, nil }, []byte("k"))
		first := "n=u,r=cnonce"
		resp, _, err := s.Step([]byte("n,," + first))
		if err != nil {
			t.Fatal(err)
		}
		combined := strings.TrimPrefix(strings.Split(string(resp), ",")[0], "r=")
		without := "c=biws,r=" + tc.nonce(combined)
		authMsg := first + "," + string(resp) + "," + without
		clientKey := m.hmac(salted, []byte("Client Key"))
		sig := m.hmac(m.sum(clientKey), []byte(authMsg))
		proof := make([]byte, len(sig))
		for i := range sig {
			proof[i] = clientKey[i] ^ sig[i]
		}
		_, done, err := s.Step([]byte(without + ",p=" + base64.StdEncoding.EncodeToString(proof)))
		if done != tc.ok || (err == nil) != tc.ok {
			t.Errorf("nonce %q: done %v, err %v", tc.nonce(combined), done, err)
		}
	}
}
