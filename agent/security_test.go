package agent_test

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/stratalog/strata/agent"
	"github.com/stratalog/strata/internal/testcert"
	"github.com/stratalog/strata/internal/testkit"
)

// secEnv is a CA with a server certificate and a client certificate
// (CN=alice,OU=eng,O=Strata test) in a temporary directory.
type secEnv struct {
	dir            string
	ca             *testcert.CA
	server, client testcert.Leaf
}

func newSecEnv(t testing.TB) secEnv {
	dir := t.TempDir()
	ca := testcert.NewCA(t, dir, "ca")
	return secEnv{
		dir:    dir,
		ca:     ca,
		server: ca.Issue(t, dir, "server", pkix.Name{CommonName: "localhost"}),
		client: ca.Issue(t, dir, "client", pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"eng"}, Organization: []string{"Strata test"}}),
	}
}

func (e secEnv) tls(withCert bool) *tls.Config {
	c := &tls.Config{RootCAs: e.ca.Pool(), ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if withCert {
		c.Certificates = []tls.Certificate{e.client.TLS}
	}
	return c
}

// principals records OnAuthenticated calls.
type principals struct {
	mu  sync.Mutex
	got []string // "LISTENER User:..."
}

func (p *principals) hook(listener, principal string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, listener+" "+principal)
}

func (p *principals) count(entry string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, g := range p.got {
		if g == entry {
			n++
		}
	}
	return n
}

func (e secEnv) agent(t *testing.T, p *principals, mod func(*agent.Config)) *agent.Agent {
	return testAgent(t, func(c *agent.Config) {
		c.Listeners = "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0"
		c.TLSCertFile, c.TLSKeyFile = e.server.CertFile, e.server.KeyFile
		c.TLSClientCAFile, c.TLSClientAuth = e.ca.File, "requested"
		c.SASLEnabledMechanisms = "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"
		if p != nil {
			c.OnAuthenticated = p.hook
		}
		if mod != nil {
			mod(c)
		}
	})
}

func addUsers(t testing.TB, addr string) {
	t.Helper()
	adm := kadm.NewClient(testkit.NewClient(t, addr))
	res, err := adm.AlterUserSCRAMs(context.Background(), nil, []kadm.UpsertSCRAM{
		{User: "alice", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "alice-pw"},
		{User: "bob", Mechanism: kadm.ScramSha256, Iterations: 8192, Password: "bob-pw"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for u, r := range res {
		if r.Err != nil {
			t.Fatalf("upsert %s: %v", u, r.Err)
		}
	}
}

func scram512(user, pass string) sasl.Mechanism {
	return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
}

// roundTrip produces one record to topic over the client and reads it
// back, and checks that Metadata gives the address of the listener the
// client connected to.
func roundTrip(t *testing.T, a *agent.Agent, listener, topic string, opts ...kgo.Opt) {
	t.Helper()
	addr := a.ListenerAddr(listener)
	cl := testkit.NewClient(t, addr, append(opts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(listener)}).FirstErr(); err != nil {
		t.Fatalf("%s: produce: %v", listener, err)
	}
	brokers, err := kadm.NewClient(cl).ListBrokers(ctx)
	if err != nil {
		t.Fatalf("%s: metadata: %v", listener, err)
	}
	if len(brokers) != 1 || net.JoinHostPort(brokers[0].Host, itoa(brokers[0].Port)) != addr {
		t.Fatalf("%s: metadata brokers %+v, want %s", listener, brokers, addr)
	}
	found := false
	for !found {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("%s: consume: %v", listener, err)
		}
		fs.EachRecord(func(r *kgo.Record) { found = found || string(r.Value) == listener })
	}
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

// TestSecurityListeners: one agent with PLAINTEXT, SSL, SASL_PLAINTEXT
// and SASL_SSL listeners; users created with AlterUserScramCredentials
// (kadm) authenticate with SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN, over
// TLS too; mTLS gives the certificate's DN; every client is told the
// address of the listener it used.
func TestSecurityListeners(t *testing.T) {
	e := newSecEnv(t)
	var p principals
	a := e.agent(t, &p, nil)
	addUsers(t, a.ListenerAddr("PLAINTEXT"))
	testkit.CreateTopic(t, a.ListenerAddr("PLAINTEXT"), "sec", 1, nil)

	adm := kadm.NewClient(testkit.NewClient(t, a.ListenerAddr("PLAINTEXT")))
	described, err := adm.DescribeUserSCRAMs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d := described["alice"]; d.Err != nil || len(d.CredInfos) != 1 || d.CredInfos[0].Mechanism != kadm.ScramSha512 || d.CredInfos[0].Iterations != 4096 {
		t.Fatalf("alice described as %+v", d)
	}
	if d := described["bob"]; d.Err != nil || len(d.CredInfos) != 1 || d.CredInfos[0].Mechanism != kadm.ScramSha256 || d.CredInfos[0].Iterations != 8192 {
		t.Fatalf("bob described as %+v", d)
	}
	if d, err := adm.DescribeUserSCRAMs(context.Background(), "nobody"); err != nil || !errors.Is(d["nobody"].Err, kerr.ResourceNotFound) {
		t.Fatalf("unknown user described as %+v, %v", d, err)
	}

	roundTrip(t, a, "PLAINTEXT", "sec")
	roundTrip(t, a, "SASL_PLAINTEXT", "sec", kgo.SASL(scram512("alice", "alice-pw")))
	roundTrip(t, a, "SASL_PLAINTEXT", "sec", kgo.SASL(scram.Auth{User: "bob", Pass: "bob-pw"}.AsSha256Mechanism()))
	roundTrip(t, a, "SASL_PLAINTEXT", "sec", kgo.SASL(plain.Auth{User: "bob", Pass: "bob-pw"}.AsMechanism()))
	roundTrip(t, a, "SASL_SSL", "sec", kgo.SASL(scram512("alice", "alice-pw")), kgo.DialTLSConfig(e.tls(false)))
	roundTrip(t, a, "SSL", "sec", kgo.DialTLSConfig(e.tls(true)))
	roundTrip(t, a, "SSL", "sec", kgo.DialTLSConfig(e.tls(false)))
	for _, want := range []string{
		"SASL_PLAINTEXT User:alice", "SASL_PLAINTEXT User:bob", "SASL_SSL User:alice",
		"SSL User:CN=alice,OU=eng,O=Strata test", "SSL User:ANONYMOUS",
	} {
		if p.count(want) == 0 {
			t.Errorf("no connection authenticated as %q; got %q", want, p.got)
		}
	}

	// Deleting a credential: that user can no longer log in; deleting it
	// again is RESOURCE_NOT_FOUND.
	res, err := adm.AlterUserSCRAMs(context.Background(), []kadm.DeleteSCRAM{{User: "bob", Mechanism: kadm.ScramSha256}}, nil)
	if err != nil || res["bob"].Err != nil {
		t.Fatalf("delete bob: %+v %v", res, err)
	}
	res, _ = adm.AlterUserSCRAMs(context.Background(), []kadm.DeleteSCRAM{{User: "bob", Mechanism: kadm.ScramSha256}}, nil)
	if !errors.Is(res["bob"].Err, kerr.ResourceNotFound) {
		t.Fatalf("second delete: %+v", res)
	}
	if err := pingErr(t, a.ListenerAddr("SASL_PLAINTEXT"), kgo.SASL(plain.Auth{User: "bob", Pass: "bob-pw"}.AsMechanism())); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("deleted user: %v", err)
	}
}

func pingErr(t *testing.T, addr string, opts ...kgo.Opt) error {
	cl := testkit.NewClient(t, addr, append(opts, kgo.RequestRetries(0), kgo.RetryTimeout(time.Second))...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	return err
}

// TestAlterUserScramCredentialsErrors: Kafka's per-user error codes.
func TestAlterUserScramCredentialsErrors(t *testing.T) {
	a := testAgent(t, nil)
	cl := testkit.NewClient(t, a.Addr())
	req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	up := func(name string, mech int8, iter int32, salt, pw string) kmsg.AlterUserSCRAMCredentialsRequestUpsertion {
		u := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
		u.Name, u.Mechanism, u.Iterations, u.Salt, u.SaltedPassword = name, mech, iter, []byte(salt), []byte(pw)
		return u
	}
	del := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
	del.Name, del.Mechanism = "dup", 1
	req.Deletions = []kmsg.AlterUserSCRAMCredentialsRequestDeletion{del}
	req.Upsertions = []kmsg.AlterUserSCRAMCredentialsRequestUpsertion{
		up("ok", 2, 4096, "salt", "salted"),
		up("few", 1, 100, "salt", "salted"),
		up("mech", 3, 4096, "salt", "salted"),
		up("dup", 1, 4096, "salt", "salted"),
		up("nosalt", 1, 4096, "", "salted"),
		up("", 1, 4096, "salt", "salted"),
	}
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int16{"ok": 0, "few": kerr.UnacceptableCredential.Code, "mech": kerr.UnsupportedSaslMechanism.Code,
		"dup": kerr.DuplicateResource.Code, "nosalt": kerr.UnacceptableCredential.Code, "": kerr.UnacceptableCredential.Code}
	got := map[string]int16{}
	for _, r := range resp.Results {
		got[r.User] = r.ErrorCode
	}
	if len(got) != len(want) {
		t.Fatalf("results %+v", resp.Results)
	}
	for u, code := range want {
		if got[u] != code {
			t.Errorf("user %q: code %d, want %d", u, got[u], code)
		}
	}
}

// TestSASLFailuresLookAlike: a wrong password and an unknown user get the
// same SASL_AUTHENTICATION_FAILED and message, are counted, and past the
// burst an address is refused even with the right password.
func TestSASLFailuresLookAlike(t *testing.T) {
	e := newSecEnv(t)
	a := e.agent(t, nil, func(c *agent.Config) { c.AuthFailureBurst, c.AuthFailuresPerMinute = 3, 1 })
	addUsers(t, a.ListenerAddr("PLAINTEXT"))
	addr := a.ListenerAddr("SASL_PLAINTEXT")
	wrong := pingErr(t, addr, kgo.SASL(scram512("alice", "nope")))
	unknown := pingErr(t, addr, kgo.SASL(scram512("mallory", "nope")))
	if !errors.Is(wrong, kerr.SaslAuthenticationFailed) || !errors.Is(unknown, kerr.SaslAuthenticationFailed) {
		t.Fatalf("wrong password: %v; unknown user: %v", wrong, unknown)
	}
	t.Logf("wrong password: %v", wrong)
	if unknown.Error() != wrong.Error() {
		t.Fatalf("failures differ:\n%v\n%v", wrong, unknown)
	}
	if err := pingErr(t, addr, kgo.SASL(plain.Auth{User: "mallory", Pass: "x"}.AsMechanism())); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("PLAIN unknown user: %v", err)
	}
	// Three failures: the burst is spent; the right password is refused.
	if err := pingErr(t, addr, kgo.SASL(scram512("alice", "alice-pw"))); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("after the burst, a good password: %v", err)
	}
	m := metrics(t, a)
	for _, want := range []string{
		`strata_sasl_authentications_total{mechanism="SCRAM-SHA-512",result="failed"} 2`,
		`strata_sasl_authentications_total{mechanism="PLAIN",result="failed"} 1`,
		`strata_sasl_authentications_total{mechanism="SCRAM-SHA-512",result="limited"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func metrics(t *testing.T, a *agent.Agent) string {
	resp, err := http.Get("http://" + a.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestSASLFraming: on a SASL listener a request before authentication
// closes the connection; SaslHandshake v0 is followed by bare tokens;
// v1 by SaslAuthenticate; a PLAINTEXT listener answers SaslHandshake
// with ILLEGAL_SASL_STATE.
func TestSASLFraming(t *testing.T) {
	e := newSecEnv(t)
	a := e.agent(t, nil, nil)
	addUsers(t, a.ListenerAddr("PLAINTEXT"))
	addr := a.ListenerAddr("SASL_PLAINTEXT")
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 1

	c := dialRawAddr(t, addr)
	c.roundTrip(kmsg.NewPtrApiVersionsRequest(), kmsg.NewPtrApiVersionsResponse()) // allowed before authentication
	c.send(md)
	c.expectClosed("metadata before authentication")

	// v0: handshake, then a bare PLAIN token, answered by a bare empty one.
	c = dialRawAddr(t, addr)
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 0, "PLAIN"
	hsr := kmsg.NewPtrSASLHandshakeResponse()
	c.roundTrip(hs, hsr)
	if hsr.ErrorCode != 0 || len(hsr.SupportedMechanisms) != 3 {
		t.Fatalf("handshake v0: %+v", hsr)
	}
	tok := []byte("\x00alice\x00alice-pw")
	c.c.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(tok))), tok...))
	if ans, err := c.readFrame(); err != nil || len(ans) != 0 {
		t.Fatalf("v0 token answer %q, %v", ans, err)
	}
	mdr := kmsg.NewPtrMetadataResponse()
	c.roundTrip(md, mdr)
	if len(mdr.Brokers) != 1 {
		t.Fatalf("metadata after v0 authentication: %+v", mdr)
	}

	// A wrong v0 token: closed without an answer.
	c = dialRawAddr(t, addr)
	c.roundTrip(hs, kmsg.NewPtrSASLHandshakeResponse())
	tok = []byte("\x00alice\x00bad")
	c.c.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(tok))), tok...))
	c.expectClosed("wrong v0 token")

	// Unsupported mechanism: the enabled list, then closed.
	c = dialRawAddr(t, addr)
	hs.Version, hs.Mechanism = 1, "GSSAPI"
	hsr = kmsg.NewPtrSASLHandshakeResponse()
	c.roundTrip(hs, hsr)
	if hsr.ErrorCode != kerr.UnsupportedSaslMechanism.Code || len(hsr.SupportedMechanisms) != 3 {
		t.Fatalf("handshake GSSAPI: %+v", hsr)
	}
	c.expectClosed("after an unsupported mechanism")

	// SaslAuthenticate without a handshake closes the connection.
	c = dialRawAddr(t, addr)
	c.send(kmsg.NewPtrSASLAuthenticateRequest())
	c.expectClosed("SaslAuthenticate before a handshake")

	// On a PLAINTEXT listener: ILLEGAL_SASL_STATE, the connection stays.
	c = dialRawAddr(t, a.ListenerAddr("PLAINTEXT"))
	hsr = kmsg.NewPtrSASLHandshakeResponse()
	c.roundTrip(hs, hsr)
	if hsr.ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("handshake on PLAINTEXT: %+v", hsr)
	}
	mdr = kmsg.NewPtrMetadataResponse()
	c.roundTrip(md, mdr)
	if len(mdr.Brokers) != 1 {
		t.Fatalf("metadata on PLAINTEXT: %+v", mdr)
	}
}

// TestMTLSRequired: with --tls-client-auth=required a client without a
// certificate, with one of another CA or with an expired one cannot
// connect, one with a certificate of the CA can, and the principal
// mapping rule takes its CN.
func TestMTLSRequired(t *testing.T) {
	e := newSecEnv(t)
	var p principals
	a := testAgent(t, func(c *agent.Config) {
		c.Listeners = "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0"
		c.TLSCertFile, c.TLSKeyFile = e.server.CertFile, e.server.KeyFile
		c.TLSClientCAFile, c.TLSClientAuth = e.ca.File, "required"
		c.SSLPrincipalMappingRules = `RULE:^CN=(.*?),.*$/$1/U,DEFAULT`
		c.OnAuthenticated = p.hook
	})
	testkit.CreateTopic(t, a.ListenerAddr("PLAINTEXT"), "mtls", 1, nil)
	roundTrip(t, a, "SSL", "mtls", kgo.DialTLSConfig(e.tls(true)))
	n := p.count("SSL User:ALICE")
	if n == 0 {
		t.Fatalf("principals %q, want SSL User:ALICE", p.got)
	}
	if err := pingErr(t, a.ListenerAddr("SSL"), kgo.DialTLSConfig(e.tls(false))); err == nil {
		t.Fatal("a client without a certificate got an answer")
	}
	// A certificate from another CA is refused too.
	other := testcert.NewCA(t, t.TempDir(), "other")
	rogue := other.Issue(t, t.TempDir(), "rogue", pkix.Name{CommonName: "alice"})
	tc := e.tls(false)
	tc.Certificates = []tls.Certificate{rogue.TLS}
	if err := pingErr(t, a.ListenerAddr("SSL"), kgo.DialTLSConfig(tc)); err == nil {
		t.Fatal("a certificate of an unknown CA got an answer")
	}
	// An expired certificate of the right CA is refused.
	expired := e.ca.IssueValid(t, t.TempDir(), "expired", pkix.Name{CommonName: "alice"}, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	tc = e.tls(false)
	tc.Certificates = []tls.Certificate{expired.TLS}
	if err := pingErr(t, a.ListenerAddr("SSL"), kgo.DialTLSConfig(tc)); err == nil {
		t.Fatal("an expired certificate got an answer")
	}
	// Meanwhile a good client still works.
	roundTrip(t, a, "SSL", "mtls", kgo.DialTLSConfig(e.tls(true)))
	// Only the good clients' connections were established.
	if p.count("SSL User:ALICE") <= n || len(p.got) != p.count("SSL User:ALICE") {
		t.Fatalf("principals %q after refused clients", p.got)
	}
}

// TestStalledHandshakesLeaveOthersAlone: clients that stop in the middle
// of a TLS handshake or a SCRAM exchange hold up no one: other clients
// connect, authenticate and produce meanwhile.
func TestStalledHandshakesLeaveOthersAlone(t *testing.T) {
	e := newSecEnv(t)
	a := e.agent(t, nil, nil)
	addUsers(t, a.ListenerAddr("PLAINTEXT"))
	testkit.CreateTopic(t, a.ListenerAddr("PLAINTEXT"), "stall", 1, nil)

	// Half a TLS ClientHello on the SASL_SSL listener.
	half, err := net.Dial("tcp", a.ListenerAddr("SASL_SSL"))
	if err != nil {
		t.Fatal(err)
	}
	defer half.Close()
	half.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01})
	// A SCRAM exchange stopped after the client-first message.
	c := dialRawAddr(t, a.ListenerAddr("SASL_PLAINTEXT"))
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, "SCRAM-SHA-512"
	c.roundTrip(hs, kmsg.NewPtrSASLHandshakeResponse())
	au := kmsg.NewPtrSASLAuthenticateRequest()
	au.SASLAuthBytes = []byte("n,,n=alice,r=abcdefgh")
	aur := kmsg.NewPtrSASLAuthenticateResponse()
	c.roundTrip(au, aur)
	if aur.ErrorCode != 0 || !strings.HasPrefix(string(aur.SASLAuthBytes), "r=abcdefgh") {
		t.Fatalf("server-first %+v", aur)
	}
	// Meanwhile: everything else works.
	roundTrip(t, a, "SASL_SSL", "stall", kgo.SASL(scram512("alice", "alice-pw")), kgo.DialTLSConfig(e.tls(false)))
	roundTrip(t, a, "SASL_PLAINTEXT", "stall", kgo.SASL(scram512("alice", "alice-pw")))
	// The stalled exchange can still finish badly, and only it closes.
	au.SASLAuthBytes = []byte("c=biws,r=" + strings.TrimPrefix(strings.Split(string(aur.SASLAuthBytes), ",")[0], "r=") + ",p=AAAA")
	aur = kmsg.NewPtrSASLAuthenticateResponse()
	c.roundTrip(au, aur)
	if aur.ErrorCode != kerr.SaslAuthenticationFailed.Code {
		t.Fatalf("bad proof: %+v", aur)
	}
	c.expectClosed("after a failed exchange")
	roundTrip(t, a, "SASL_PLAINTEXT", "stall", kgo.SASL(scram512("alice", "alice-pw")))
}

// TestSASLReauthentication: with --connections-max-reauth-ms the
// session lifetime reaches the client (SaslAuthenticate v1+), franz-go
// re-authenticates on the same connection before it, and producing goes
// on without an error.
func TestSASLReauthentication(t *testing.T) {
	e := newSecEnv(t)
	var p principals
	a := e.agent(t, &p, func(c *agent.Config) { c.ConnectionsMaxReauth = 2500 * time.Millisecond })
	addUsers(t, a.ListenerAddr("PLAINTEXT"))
	testkit.CreateTopic(t, a.ListenerAddr("PLAINTEXT"), "reauth", 1, nil)
	cl := testkit.NewClient(t, a.ListenerAddr("SASL_PLAINTEXT"), kgo.SASL(scram512("alice", "alice-pw")), kgo.DefaultProduceTopic("reauth"))
	produced := 0
	testkit.Await(t, 30*time.Second, "re-authentications", func() bool {
		if err := cl.ProduceSync(t.Context(), &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", produced, err)
		}
		produced++
		time.Sleep(50 * time.Millisecond) // pace the loop
		// Two connections (metadata and produce) authenticate once each,
		// then re-authenticate.
		return p.count("SASL_PLAINTEXT User:alice") >= 4
	})
	// The raw lifetime: SaslAuthenticate v1 carries it.
	c := dialRawAddr(t, a.ListenerAddr("SASL_PLAINTEXT"))
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, "PLAIN"
	c.roundTrip(hs, kmsg.NewPtrSASLHandshakeResponse())
	au := kmsg.NewPtrSASLAuthenticateRequest()
	au.Version, au.SASLAuthBytes = 1, []byte("\x00alice\x00alice-pw")
	aur := kmsg.NewPtrSASLAuthenticateResponse()
	c.roundTrip(au, aur)
	if aur.ErrorCode != 0 || aur.SessionLifetimeMillis != 2500 {
		t.Fatalf("SaslAuthenticate v1: %+v", aur)
	}
	got := testkit.ConsumeAll(t, a.ListenerAddr("PLAINTEXT"), "reauth", produced)
	if len(got) != produced {
		t.Fatalf("consumed %d of %d", len(got), produced)
	}
}

// TestCertificateReloadLive: the agent's certificate files are replaced
// while it runs; new TLS connections get the new certificate and old
// clients keep working.
func TestCertificateReloadLive(t *testing.T) {
	e := newSecEnv(t)
	a := e.agent(t, nil, nil)
	testkit.CreateTopic(t, a.ListenerAddr("PLAINTEXT"), "reload", 1, nil)
	roundTrip(t, a, "SSL", "reload", kgo.DialTLSConfig(e.tls(false)))
	servedCN := func() string {
		c, err := tls.Dial("tcp", a.ListenerAddr("SSL"), e.tls(false))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if cn := servedCN(); cn != "localhost" {
		t.Fatalf("served %q", cn)
	}
	// The same files, a new certificate (SANs localhost and 127.0.0.1).
	e.ca.Issue(t, e.dir, "server", pkix.Name{CommonName: "localhost", Organization: []string{"renewed"}})
	testkit.Await(t, 10*time.Second, "the renewed certificate", func() bool {
		c, err := tls.Dial("tcp", a.ListenerAddr("SSL"), e.tls(false))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		o := c.ConnectionState().PeerCertificates[0].Subject.Organization
		return len(o) == 1 && o[0] == "renewed"
	})
	roundTrip(t, a, "SSL", "reload", kgo.DialTLSConfig(e.tls(false)))
}

// TestListenersAcrossAgents: two agents with PLAINTEXT and SASL_PLAINTEXT
// listeners on one metastore; a client of either listener is given both
// agents' addresses on that listener by Metadata, FindCoordinator and
// DescribeCluster.
func TestListenersAcrossAgents(t *testing.T) {
	meta, objs := testkit.Backends(t)
	start := func() *agent.Agent {
		return testAgent(t, func(c *agent.Config) {
			c.MetastoreURL, c.ObjstoreURL = meta, objs
			c.Listeners = "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0"
			c.SASLEnabledMechanisms = "PLAIN"
		})
	}
	a, b := start(), start()
	addUsers(t, a.ListenerAddr("PLAINTEXT"))
	for _, tc := range []struct {
		listener string
		opts     []kgo.Opt
	}{
		{"PLAINTEXT", nil},
		{"SASL_PLAINTEXT", []kgo.Opt{kgo.SASL(plain.Auth{User: "alice", Pass: "alice-pw"}.AsMechanism())}},
	} {
		want := map[int32]string{a.NodeID(): a.ListenerAddr(tc.listener), b.NodeID(): b.ListenerAddr(tc.listener)}
		adm := kadm.NewClient(testkit.NewClient(t, a.ListenerAddr(tc.listener), tc.opts...))
		testkit.Await(t, 10*time.Second, "both agents in metadata", func() bool {
			bs, err := adm.ListBrokers(context.Background())
			return err == nil && len(bs) == 2
		})
		bs, _ := adm.ListBrokers(context.Background())
		for _, br := range bs {
			if got := net.JoinHostPort(br.Host, itoa(br.Port)); got != want[br.NodeID] {
				t.Errorf("%s: metadata gives node %d at %s, want %s", tc.listener, br.NodeID, got, want[br.NodeID])
			}
		}
		dreq := kmsg.NewPtrDescribeClusterRequest()
		dc, err := dreq.RequestWith(context.Background(), testkit.NewClient(t, a.ListenerAddr(tc.listener), tc.opts...))
		if err != nil || len(dc.Brokers) != 2 {
			t.Fatalf("%s: describe cluster %+v %v", tc.listener, dc, err)
		}
		for _, br := range dc.Brokers {
			if got := net.JoinHostPort(br.Host, itoa(br.Port)); got != want[br.NodeID] {
				t.Errorf("%s: describe cluster gives node %d at %s", tc.listener, br.NodeID, got)
			}
		}
		nodes := map[int32]bool{}
		for _, g := range []string{"g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8"} {
			for _, co := range adm.FindGroupCoordinators(context.Background(), g) {
				nodes[co.NodeID] = true
				if co.Err != nil || net.JoinHostPort(co.Host, itoa(co.Port)) != want[co.NodeID] {
					t.Errorf("%s: coordinator of %s: %+v, want %s", tc.listener, g, co, want[co.NodeID])
				}
			}
		}
		if len(nodes) != 2 {
			t.Errorf("%s: 8 groups all coordinated by %v; the test wants both agents", tc.listener, nodes)
		}
	}
}

// logBuffer collects an agent's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestOpenListenerWarning: a listener without authentication bound
// beyond loopback is warned about; SASL and loopback listeners are not.
func TestOpenListenerWarning(t *testing.T) {
	var logs logBuffer
	testAgent(t, func(c *agent.Config) {
		c.Listeners = "PLAINTEXT://:0,SASL_PLAINTEXT://:0,LOCAL://127.0.0.1:0"
		c.ListenerSecurityProtocolMap = "LOCAL:PLAINTEXT"
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	var warned []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "level=WARN") && strings.Contains(l, "without authentication") {
			warned = append(warned, l)
		}
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "listener=PLAINTEXT") {
		t.Fatalf("warnings %q, want one for PLAINTEXT", warned)
	}
}

// TestSASLSessionExpiry: past --connections-max-reauth-ms a request other
// than a re-authentication closes the connection; a re-authentication as
// another principal is refused; as the same one it renews the session.
func TestSASLSessionExpiry(t *testing.T) {
	e := newSecEnv(t)
	a := e.agent(t, nil, func(c *agent.Config) { c.ConnectionsMaxReauth = 300 * time.Millisecond })
	addUsers(t, a.ListenerAddr("PLAINTEXT"))
	addr := a.ListenerAddr("SASL_PLAINTEXT")
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 1
	login := func(c *rawConn, user, pass string) *kmsg.SASLAuthenticateResponse {
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.Version, hs.Mechanism = 1, "PLAIN"
		c.roundTrip(hs, kmsg.NewPtrSASLHandshakeResponse())
		au := kmsg.NewPtrSASLAuthenticateRequest()
		au.Version, au.SASLAuthBytes = 2, []byte("\x00"+user+"\x00"+pass)
		aur := kmsg.NewPtrSASLAuthenticateResponse()
		c.roundTrip(au, aur)
		return aur
	}

	c := dialRawAddr(t, addr)
	if r := login(c, "alice", "alice-pw"); r.ErrorCode != 0 || r.SessionLifetimeMillis != 300 {
		t.Fatalf("login: %+v", r)
	}
	c.roundTrip(md, kmsg.NewPtrMetadataResponse())
	time.Sleep(400 * time.Millisecond) // past the session's end
	c.send(md)
	c.expectClosed("a request after the session expired")

	c = dialRawAddr(t, addr)
	login(c, "alice", "alice-pw")
	if r := login(c, "alice", "alice-pw"); r.ErrorCode != 0 {
		t.Fatalf("re-authentication: %+v", r)
	}
	c.roundTrip(md, kmsg.NewPtrMetadataResponse())
	if r := login(c, "bob", "bob-pw"); r.ErrorCode != kerr.SaslAuthenticationFailed.Code {
		t.Fatalf("re-authentication as bob: %+v", r)
	}
	c.expectClosed("after re-authenticating as another principal")
}
