package tlsconf

import (
	"crypto/tls"
	"crypto/x509/pkix"
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
