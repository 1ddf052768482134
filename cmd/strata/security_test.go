package main

import (
	"bytes"
	"context"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stratalog/strata/internal/testcert"
	"github.com/stratalog/strata/internal/testkit"
)

// runStrata runs the strata binary to completion and returns its output.
func runStrata(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, strataBin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// TestKcatSASLSSLAndMTLS: the binary with PLAINTEXT, SASL_SSL and SSL
// listeners; `strata users add` creates a SCRAM-SHA-512 user while the
// agent runs; kcat (librdkafka) produces and consumes over SASL_SSL with
// that user and over SSL with a client certificate, and -L lists the
// broker at the listener's own address.
func TestKcatSASLSSLAndMTLS(t *testing.T) {
	t.Parallel()
	bin := kcatPath(t)
	dir := t.TempDir()
	ca := testcert.NewCA(t, dir, "ca")
	srv := ca.Issue(t, dir, "server", pkix.Name{CommonName: "localhost"})
	cli := ca.Issue(t, dir, "client", pkix.Name{CommonName: "kcat"})
	dataDir := t.TempDir()
	backend := backendFlags(t, dataDir)
	plainAddr, saslAddr, sslAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	args := append([]string{"agent", "--admin-listen", "off", "--data-dir", dataDir,
		"--listeners", "PLAINTEXT://" + plainAddr + ",SASL_SSL://" + saslAddr + ",SSL://" + sslAddr,
		"--tls-cert-file", srv.CertFile, "--tls-key-file", srv.KeyFile,
		"--tls-client-ca-file", ca.File, "--tls-client-auth", "required"}, backend...)
	p := spawn(t, nil, args...)
	p.addr, p.dataDir = plainAddr, dataDir
	if err := p.waitReady(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.stderr.String(), "SASL_SSL(SASL_SSL) "+saslAddr) {
		t.Errorf("start-up log does not list the SASL_SSL listener:\n%s", tail(p.stderr.String(), 10))
	}

	pwFile := filepath.Join(dir, "pw")
	os.WriteFile(pwFile, []byte("kcat-secret\n"), 0o600)
	out, err := runStrata(t, append([]string{"users", "add", "kcat", "--mechanism", "SCRAM-SHA-512", "--password-file", pwFile, "--data-dir", dataDir}, backend[:2]...)...)
	if err != nil {
		t.Fatalf("users add: %v\n%s", err, out)
	}
	out, err = runStrata(t, append([]string{"users", "list", "--data-dir", dataDir}, backend[:2]...)...)
	if err != nil || !strings.Contains(out, "kcat  SCRAM-SHA-512  8192") {
		t.Fatalf("users list: %v\n%s", err, out)
	}
	if out, err := runStrata(t, "users", "add", "x", "--mechanism", "SCRAM-SHA-1", "--password-file", pwFile, "--data-dir", dataDir); exitCode(err) != 2 {
		t.Fatalf("bad mechanism: exit %d\n%s", exitCode(err), out)
	}
	testkit.CreateTopic(t, plainAddr, "secure", 1, nil)

	sasl := []string{"-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=SCRAM-SHA-512",
		"-X", "sasl.username=kcat", "-X", "sasl.password=kcat-secret", "-X", "ssl.ca.location=" + ca.File}
	mtls := []string{"-X", "security.protocol=SSL", "-X", "ssl.ca.location=" + ca.File,
		"-X", "ssl.certificate.location=" + cli.CertFile, "-X", "ssl.key.location=" + cli.KeyFile}
	for _, tc := range []struct {
		name, addr string
		opts       []string
	}{{"SASL_SSL", saslAddr, sasl}, {"SSL", sslAddr, mtls}} {
		var md kcatMetadata
		if err := json.Unmarshal([]byte(kcat(t, bin, append([]string{"-L", "-J", "-b", tc.addr}, tc.opts...)...)), &md); err != nil {
			t.Fatal(err)
		}
		if len(md.Brokers) != 1 || md.Brokers[0].Name != tc.addr {
			t.Fatalf("%s: brokers %+v, want %s", tc.name, md.Brokers, tc.addr)
		}
		var lines []string
		for i := 0; i < 100; i++ {
			lines = append(lines, fmt.Sprintf("k%d:%s line %d", i%7, tc.name, i))
		}
		file := filepath.Join(t.TempDir(), "in.txt")
		os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
		kcat(t, bin, append([]string{"-P", "-b", tc.addr, "-t", "secure", "-K:", "-l", file}, tc.opts...)...)
		got := kcat(t, bin, append([]string{"-C", "-b", tc.addr, "-t", "secure", "-K:", "-e", "-o", "beginning", "-f", "%k:%s\n"}, tc.opts...)...)
		if !strings.Contains(got, strings.Join(lines, "\n")+"\n") {
			t.Fatalf("%s: consumed\n%s", tc.name, tail(got, 5))
		}
	}
}

// TestSecurityFlagErrors: bad listener, TLS and SASL settings are usage
// errors (exit 2, one line naming the setting) before anything starts.
func TestSecurityFlagErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args    []string
		mention string
	}{
		{[]string{"--listeners", "INTERNAL://127.0.0.1:0"}, "listener-security-protocol-map"},
		{[]string{"--listeners", "INTERNAL://127.0.0.1:0", "--listener-security-protocol-map", "INTERNAL:TLS"}, "listener-security-protocol-map"},
		{[]string{"--listeners", "PLAINTEXT://127.0.0.1:0", "--listen", "127.0.0.1:0"}, "--listen"},
		{[]string{"--listeners", "PLAINTEXT:/127.0.0.1:0"}, "listeners"},
		{[]string{"--listeners", "PLAINTEXT://127.0.0.1:9,SSL://127.0.0.1:9"}, "port 9"},
		{[]string{"--listeners", "SSL://127.0.0.1:0"}, "tls-cert-file"},
		{[]string{"--listeners", "PLAINTEXT://127.0.0.1:0", "--advertised-listeners", "OTHER://h:1"}, "advertised-listeners"},
		{[]string{"--listeners", "PLAINTEXT://:0", "--advertised-listeners", "PLAINTEXT://0.0.0.0:1"}, "advertised-listeners"},
		{[]string{"--tls-client-auth", "maybe"}, "tls-client-auth"},
		{[]string{"--tls-client-auth", "required"}, "tls-client-ca-file"},
		{[]string{"--sasl-enabled-mechanisms", "GSSAPI"}, "sasl-enabled-mechanisms"},
		{[]string{"--ssl-principal-mapping-rules", "RULE:broken"}, "ssl-principal-mapping-rules"},
		{[]string{"--super-users", "admin"}, "super-users"},
	} {
		args := append([]string{"agent", "--admin-listen", "off", "--data-dir", t.TempDir()}, tc.args...)
		code, stdout, stderr := run(t, nil, args...)
		line := strings.TrimSuffix(stderr, "\n")
		if code != 2 || stdout != "" || strings.Contains(line, "\n") || !strings.Contains(line, tc.mention) {
			t.Errorf("strata %v: exit %d, stderr %q; want 2 and one line mentioning %q", args, code, stderr, tc.mention)
		}
	}
}
