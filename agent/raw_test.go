package agent_test

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/agent"
	"github.com/stratalog/strata/agent/kafka"
	"github.com/stratalog/strata/internal/testkit"
)

// rawConn speaks the Kafka protocol over a bare socket, so tests can send
// what real clients never would.
type rawConn struct {
	t    *testing.T
	c    net.Conn
	corr int32
}

func dialRaw(t *testing.T, a *agent.Agent) *rawConn {
	t.Helper()
	return dialRawAddr(t, a.Addr())
}

func dialRawAddr(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c}
}

func (r *rawConn) send(req kmsg.Request) int32 {
	r.t.Helper()
	r.corr++
	b := kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw")).AppendRequest(nil, req, r.corr)
	r.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatal(err)
	}
	return r.corr
}

// roundTrip sends req and decodes the response into resp.
func (r *rawConn) roundTrip(req kmsg.Request, resp kmsg.Response) {
	r.t.Helper()
	corr := r.send(req)
	body, err := r.readFrame()
	if err != nil {
		r.t.Fatalf("read response: %v", err)
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != corr {
		r.t.Fatalf("correlation id %d, want %d", got, corr)
	}
	body = body[4:]
	if req.IsFlexible() && req.Key() != 18 {
		body = body[1:] // empty tagged fields of the response header
	}
	resp.SetVersion(req.GetVersion())
	if err := resp.ReadFrom(body); err != nil {
		r.t.Fatalf("decode response: %v", err)
	}
}

func (r *rawConn) readFrame() ([]byte, error) {
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var sz [4]byte
	if _, err := io.ReadFull(r.c, sz[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(sz[:]))
	_, err := io.ReadFull(r.c, body)
	return body, err
}

// expectClosed asserts the agent closes the connection.
func (r *rawConn) expectClosed(what string) {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := r.c.Read(make([]byte, 1))
	if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		var ne *net.OpError
		if !errors.As(err, &ne) {
			r.t.Fatalf("%s: connection not closed: %v", what, err)
		}
	}
}

func TestInvalidAcks(t *testing.T) {
	a := testAgent(t, nil)
	testkit.CreateTopic(t, a.Addr(), "acks", 1, nil)
	rc := dialRaw(t, a)
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(9)
	req.Acks = 2
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "acks"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = idemBatch(t, -1, -1, -1, 1)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := kmsg.NewPtrProduceResponse()
	rc.roundTrip(req, resp)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.InvalidRequiredAcks.Code {
		t.Fatalf("acks=2: code %d, want INVALID_REQUIRED_ACKS", code)
	}
}

// TestBadFramesCloseOnlyThatConnection: oversized, undersized, unknown-key
// and garbage frames close their own connection; a client on another
// connection keeps producing and consuming throughout.
func TestBadFramesCloseOnlyThatConnection(t *testing.T) {
	a := testAgent(t, func(c *agent.Config) { c.MaxRequestBytes = 1 << 20 })
	testkit.CreateTopic(t, a.Addr(), "good", 1, nil)
	good := testkit.NewClient(t, a.Addr(), kgo.DefaultProduceTopic("good"))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var produced, failures int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := good.ProduceSync(t.Context(), &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
				failures++
			} else {
				produced++
			}
		}
	}()

	frames := map[string][]byte{
		"oversized":   {0x7f, 0xff, 0xff, 0xff},                                // 2 GiB declared, nothing allocated
		"over limit":  {0x00, 0x20, 0x00, 0x00},                                // 2 MiB > 1 MiB limit
		"negative":    {0xff, 0xff, 0xff, 0xfe},                                // negative size
		"undersized":  {0, 0, 0, 2, 0, 1},                                      // too short for a header
		"unknown key": {0, 0, 0, 10, 0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0xff, 0xff}, // key 32512
		"truncated metadata": append([]byte{0, 0, 0, 14, 0, 3, 0, 1, 0, 0, 0, 9, 0xff, 0xff},
			0, 0, 0, 5), // 5 topics announced, none sent
		"unsupported version": {0, 0, 0, 10, 0, 3, 0, 99, 0, 0, 0, 1, 0xff, 0xff}, // Metadata v99
		"unserved api":        {0, 0, 0, 10, 0, 11, 0, 0, 0, 0, 0, 1, 0xff, 0xff}, // JoinGroup (not served)
	}
	for name, f := range frames {
		rc := dialRaw(t, a)
		if _, err := rc.c.Write(f); err != nil {
			t.Fatalf("%s: write: %v", name, err)
		}
		rc.expectClosed(name)
	}
	close(stop)
	wg.Wait()
	if produced == 0 || failures != 0 {
		t.Fatalf("the good client produced %d records with %d failures during the bad frames", produced, failures)
	}
	got := testkit.ConsumeAll(t, a.Addr(), "good", produced)
	if len(got) != produced {
		t.Fatalf("consumed %d, produced %d", len(got), produced)
	}
}

// TestApiVersionsTooNew: an ApiVersions request newer than served gets a
// v0 UNSUPPORTED_VERSION answer carrying the version table.
func TestApiVersionsTooNew(t *testing.T) {
	a := testAgent(t, nil)
	rc := dialRaw(t, a)
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(5)
	req.ClientSoftwareName, req.ClientSoftwareVersion = "raw", "1"
	rc.send(req)
	body, err := rc.readFrame()
	if err != nil {
		t.Fatal(err)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	if err := resp.ReadFrom(body[4:]); err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != kerr.UnsupportedVersion.Code || len(resp.ApiKeys) != len(kafka.ServedAPIs()) {
		t.Fatalf("code %d with %d keys, want UNSUPPORTED_VERSION with %d", resp.ErrorCode, len(resp.ApiKeys), len(kafka.ServedAPIs()))
	}
	// The connection stays usable: v3 works.
	req = kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(3)
	req.ClientSoftwareName, req.ClientSoftwareVersion = "raw", "1"
	ok := kmsg.NewPtrApiVersionsResponse()
	rc.roundTrip(req, ok)
	if ok.ErrorCode != 0 || len(ok.ApiKeys) != len(kafka.ServedAPIs()) {
		t.Fatalf("v3: code %d keys %d", ok.ErrorCode, len(ok.ApiKeys))
	}
}
