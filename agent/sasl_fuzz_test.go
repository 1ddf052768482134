package agent_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/agent"
	"github.com/stratalog/strata/internal/testkit"
)

var (
	fuzzSASLOnce  sync.Once
	fuzzSASLAgent *agent.Agent
	fuzzSASLDir   string
)

// TestMain closes and removes FuzzSASLHandshake's agent, which lives as
// long as the process.
func TestMain(m *testing.M) {
	code := m.Run()
	if fuzzSASLAgent != nil {
		fuzzSASLAgent.Close()
		os.RemoveAll(fuzzSASLDir)
	}
	os.Exit(code)
}

// FuzzSASLHandshake drives a SASL_PLAINTEXT listener of a running agent
// with a handshake (v0 or v1, any mechanism name) and two arbitrary
// tokens, then a Metadata request. The agent must answer or close, never
// hang or crash, and Metadata may only be answered after a PLAIN token
// that carries alice's password (nothing the fuzzer makes completes
// SCRAM without the password).
func FuzzSASLHandshake(f *testing.F) {
	f.Add(uint8(1), "PLAIN", []byte("\x00alice\x00alice-pw"), []byte{})
	f.Add(uint8(0), "PLAIN", []byte("alice\x00alice\x00alice-pw"), []byte("x"))
	f.Add(uint8(1), "SCRAM-SHA-512", []byte("n,,n=alice,r=abc"), []byte("c=biws,r=abc,p=AAAA"))
	f.Add(uint8(0), "SCRAM-SHA-256", []byte("n,,n=alice,r=abc"), []byte("c=biws,r=abcdef,p="))
	f.Add(uint8(1), "GSSAPI", []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, version uint8, mechanism string, tok1, tok2 []byte) {
		fuzzSASLOnce.Do(func() {
			// One agent for the whole process: it outlives the first
			// input's test, so its directory is not that test's TempDir
			// (TestMain removes it).
			dir, err := os.MkdirTemp("", "strata-fuzz-sasl-")
			fuzzSASLDir = dir
			if err != nil {
				t.Fatal(err)
			}
			cfg := agent.Config{AdminListen: "off", Listeners: "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
				SASLEnabledMechanisms: "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512", AuthFailuresPerMinute: -1,
				DataDir: dir, Logger: testkit.Logger()}
			a, err := agent.New(context.Background(), cfg, agent.Deps{})
			if err != nil {
				t.Fatal(err)
			}
			go a.Serve()
			fuzzSASLAgent = a
			addUsers(t, a.ListenerAddr("PLAINTEXT"))
		})
		c := dialRawAddr(t, fuzzSASLAgent.ListenerAddr("SASL_PLAINTEXT"))
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.Version, hs.Mechanism = int16(version%2), mechanism
		c.send(hs)
		if _, err := c.readFrame(); err != nil {
			return // closed: fine
		}
		valid := mechanism == "PLAIN" && (bytes.Equal(tok1, []byte("\x00alice\x00alice-pw")) || bytes.Equal(tok1, []byte("alice\x00alice\x00alice-pw")))
		for _, tok := range [][]byte{tok1, tok2} {
			if hs.Version == 0 {
				c.c.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(tok))), tok...))
			} else {
				au := kmsg.NewPtrSASLAuthenticateRequest()
				au.SASLAuthBytes = tok
				c.send(au)
			}
			if _, err := c.readFrame(); err != nil {
				return
			}
			if valid {
				break // authenticated: the second token would be a request
			}
		}
		md := kmsg.NewPtrMetadataRequest()
		md.Version = 1
		c.send(md)
		_, err := c.readFrame()
		if err == nil && !valid {
			t.Fatalf("metadata answered after handshake v%d %q, tokens %q %q", hs.Version, mechanism, tok1, tok2)
		}
	})
}
