package tlsconf

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/testcert"
)

func TestPrincipalRules(t *testing.T) {
	dn := "CN=alice,OU=eng,O=Acme,C=FR"
	cases := []struct{ rules, want string }{
		{"", dn},
		{"DEFAULT", dn},
		{`RULE:^CN=(.*?),.*$/$1/`, "alice"},
		{`RULE:^CN=(.*?),.*$/$1/U`, "ALICE"},
		{`RULE:^CN=(.*?),OU=ops.*$/$1/, DEFAULT`, dn},
		{`RULE:^CN=(.*?),OU=ops.*$/ops-$1/,RULE:^CN=([a-z]+),OU=(.*?),.*$/${1}@$2/L`, "alice@eng"},
		{`RULE:^.*$/a\/b/`, "a/b"},
	}
	for _, tc := range cases {
		m, err := ParseRules(tc.rules)
		if err != nil {
			t.Fatalf("%q: %v", tc.rules, err)
		}
		if got := m.Name(dn); got != tc.want {
			t.Errorf("rules %q: %q, want %q", tc.rules, got, tc.want)
		}
	}
	for _, bad := range []string{"RULE:abc", "RULE:(/x/", "DEFAULT DEFAULT", "SOMETHING"} {
		if _, err := ParseRules(bad); err == nil {
			t.Errorf("ParseRules(%q) accepted", bad)
		}
	}
}

// A certificate replaced on disk is served from the next handshake after
// the once-a-second check, without a restart; a broken pair keeps the old
// one.
func TestCertificateReload(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, dir, "ca")
	ca.Issue(t, dir, "server", pkix.Name{CommonName: "first"})
	now := time.Now()
	cfg, err := New(Config{CertFile: dir + "/server.crt", KeyFile: dir + "/server.key", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	served := func() string {
		c, s := net.Pipe()
		defer c.Close()
		defer s.Close()
		go tls.Server(s, cfg).Handshake()
		cl := tls.Client(c, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
		if err := cl.Handshake(); err != nil {
			t.Fatal(err)
		}
		return cl.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if got := served(); got != "first" {
		t.Fatalf("served %q", got)
	}
	ca.Issue(t, dir, "server", pkix.Name{CommonName: "second"})
	now = now.Add(2 * time.Second)
	if got := served(); got != "second" {
		t.Fatalf("after reload served %q", got)
	}
	os.WriteFile(dir+"/server.key", []byte("garbage"), 0o600)
	now = now.Add(2 * time.Second)
	if got := served(); got != "second" {
		t.Fatalf("after a broken key served %q", got)
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, dir, "ca")
	l := ca.Issue(t, dir, "server", pkix.Name{CommonName: "s"})
	for _, c := range []Config{
		{},
		{CertFile: l.CertFile, KeyFile: dir + "/missing"},
		{CertFile: l.CertFile, KeyFile: l.KeyFile, ClientAuth: "required"},
		{CertFile: l.CertFile, KeyFile: l.KeyFile, ClientAuth: "maybe", ClientCAFile: ca.File},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
	tc, err := New(Config{CertFile: l.CertFile, KeyFile: l.KeyFile, ClientAuth: "required", ClientCAFile: ca.File})
	if err != nil || tc.ClientAuth != tls.RequireAndVerifyClientCert || tc.MinVersion != tls.VersionTLS12 {
		t.Fatalf("%v %v", tc, err)
	}
}

// A client CA file replaced on disk is used from the next handshake after
// the once-a-second check: a client of the new CA gets in, one of the old
// CA no longer does.
func TestClientCAReload(t *testing.T) {
	dir := t.TempDir()
	ca1 := testcert.NewCA(t, dir, "ca1")
	srv := ca1.Issue(t, dir, "server", pkix.Name{CommonName: "server"})
	old := ca1.Issue(t, dir, "old", pkix.Name{CommonName: "old"})
	clientCA := dir + "/clients.pem"
	b, _ := os.ReadFile(ca1.File)
	os.WriteFile(clientCA, b, 0o600)
	now := time.Now()
	cfg, err := New(Config{CertFile: srv.CertFile, KeyFile: srv.KeyFile, ClientCAFile: clientCA, ClientAuth: "required",
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	accepted := func(client tls.Certificate) bool {
		c, s := net.Pipe()
		defer c.Close()
		defer s.Close()
		errc := make(chan error, 1)
		go func() { errc <- tls.Server(s, cfg).Handshake() }()
		cl := tls.Client(c, &tls.Config{RootCAs: ca1.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{client}})
		go func() {
			// Keep reading: the pipe is unbuffered and the server's alert
			// (or session tickets) must be taken.
			cl.Handshake()
			io.Copy(io.Discard, cl)
		}()
		err := <-errc
		return err == nil
	}
	if !accepted(old.TLS) {
		t.Fatal("client of the first CA refused")
	}
	ca2 := testcert.NewCA(t, dir, "ca2")
	fresh := ca2.Issue(t, dir, "new", pkix.Name{CommonName: "new"})
	if accepted(fresh.TLS) {
		t.Fatal("client of the second CA accepted before the reload")
	}
	b, _ = os.ReadFile(ca2.File)
	os.WriteFile(clientCA, b, 0o600)
	now = now.Add(2 * time.Second)
	if !accepted(fresh.TLS) || accepted(old.TLS) {
		t.Fatal("after the reload: the new CA's client must get in, the old one's not")
	}
}
