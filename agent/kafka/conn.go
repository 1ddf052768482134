package kafka

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/agent/wire"
	"github.com/stratalog/strata/auth"
)

// maxInflight bounds the requests one connection may have queued for
// responses; beyond it the reader stops reading (TCP backpressure).
const maxInflight = 64

// conn is one client connection. The reader goroutine decodes requests and
// runs each handler's ordered part in arrival order (so produce appends
// keep the client's order); handlers that wait (acks=all, long-poll fetch)
// finish from their own goroutine. The writer goroutine sends responses
// in request order, as Kafka requires.
type conn struct {
	srv    *Server
	nc     net.Conn
	lst    *Listener
	host   string // the client's address without port (rate limits, logs)
	ctx    context.Context
	cancel context.CancelFunc
	queue  chan *inflight
	once   sync.Once

	// principal is who the client is: "User:NAME" from SASL or the
	// mapped certificate subject, Anonymous otherwise. Set on the reader
	// goroutine before any request it applies to is handled, and not
	// changed by re-authentication (which must keep it).
	principal string
	sasl      saslState
}

// inflight is one request awaiting its response.
type inflight struct {
	hdr   wire.Header
	start time.Time
	done  chan struct{}
	resp  kmsg.Response // nil: send nothing (acks=0 produce)
	api   string
	// raw, when set, is sent as a bare length-prefixed SASL token instead
	// of a response (SaslHandshake v0's framing).
	raw []byte
}

func (f *inflight) finish(resp kmsg.Response) {
	f.resp = resp
	close(f.done)
}

func newConn(srv *Server, nc net.Conn, lst *Listener) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	host, _, err := net.SplitHostPort(nc.RemoteAddr().String())
	if err != nil {
		host = nc.RemoteAddr().String()
	}
	if lst.UsesTLS() {
		nc = tls.Server(nc, lst.TLS) // the handshake runs on the reader goroutine (handshakeTLS)
	}
	return &conn{srv: srv, nc: nc, lst: lst, host: host, ctx: ctx, cancel: cancel,
		queue: make(chan *inflight, maxInflight), principal: auth.Anonymous}
}

func (c *conn) close() {
	c.once.Do(func() {
		c.cancel()
		c.nc.Close()
	})
}

func (c *conn) serve() {
	srv := c.srv
	srv.metrics.connections.Inc()
	writerDone := make(chan struct{})
	go c.writeLoop(writerDone)
	defer func() {
		close(c.queue)
		<-writerDone
		c.close()
		srv.metrics.connections.Dec()
		srv.connsMu.Lock()
		delete(srv.conns, c)
		srv.connsMu.Unlock()
		srv.connWG.Done()
	}()
	if !c.handshakeTLS() {
		return
	}
	r := bufio.NewReaderSize(c.nc, 64<<10)
	for {
		limit := srv.cfg.MaxRequestBytes
		if c.lst.SASL() && !c.sasl.authenticated {
			limit = min(limit, maxUnauthenticatedFrame)
		}
		frame, err := wire.ReadFrame(r, limit)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && c.ctx.Err() == nil {
				if errors.Is(err, wire.ErrFrameTooLarge) || errors.Is(err, wire.ErrFrameTooSmall) {
					srv.metrics.closedBadFrames.Inc()
				}
				srv.log.Debug("closing connection", "remote", c.nc.RemoteAddr().String(), "err", err)
			}
			return
		}
		if c.sasl.raw {
			if !c.saslRawToken(frame) {
				return
			}
			continue
		}
		hdr, req, err := wire.ParseRequest(frame)
		if err != nil {
			if hdr.Key == 18 && errors.Is(err, wire.ErrUnknownVersion) {
				if !c.answerUnsupportedApiVersions(hdr) {
					return
				}
				continue
			}
			srv.metrics.closedBadFrames.Inc()
			srv.log.Info("closing connection after bad request", "remote", c.nc.RemoteAddr().String(),
				"key", hdr.Key, "version", hdr.Version, "err", err)
			return
		}
		h, ok := handlers[hdr.Key]
		if hdr.Key == 18 && hdr.Version > h.max {
			if !c.answerUnsupportedApiVersions(hdr) {
				return
			}
			continue
		}
		if !ok || hdr.Version < h.min || hdr.Version > h.max {
			srv.metrics.closedBadFrames.Inc()
			srv.log.Info("closing connection after unsupported request", "remote", c.nc.RemoteAddr().String(),
				"api", kmsg.NameForKey(hdr.Key), "version", hdr.Version)
			return
		}
		if !c.admits(hdr) {
			return
		}
		f := c.enqueue(hdr, h.name)
		if f == nil {
			return
		}
		h.fn(c, req, f)
		if c.sasl.closing {
			return // a failed authentication: its answer is sent, then the connection closes
		}
	}
}

func (c *conn) enqueue(hdr wire.Header, api string) *inflight {
	f := &inflight{hdr: hdr, start: time.Now(), done: make(chan struct{}), api: api}
	select {
	case c.queue <- f:
		return f
	case <-c.ctx.Done():
		return nil
	}
}

func (c *conn) writeLoop(done chan struct{}) {
	defer close(done)
	srv := c.srv
	w := bufio.NewWriterSize(c.nc, 64<<10)
	var buf []byte
	failed := false
	for f := range c.queue {
		select {
		case <-f.done:
		case <-c.ctx.Done():
			<-f.done // handlers always finish; their waits observe ctx
		}
		srv.metrics.requests.WithLabelValues(f.api).Inc()
		srv.metrics.requestSeconds.WithLabelValues(f.api).Observe(time.Since(f.start).Seconds())
		if failed || (f.resp == nil && f.raw == nil) {
			continue
		}
		// A Fetch response's records are written from where they lie
		// (writev), not copied into the frame; a bare SASL token
		// (SaslHandshake v0) is its length and bytes.
		var bufs [][]byte
		if f.raw != nil {
			buf = binary.BigEndian.AppendUint32(buf[:0], uint32(len(f.raw)))
			buf = append(buf, f.raw...)
			bufs = [][]byte{buf}
		} else {
			bufs, buf = wire.ResponseBuffers(buf[:0], f.hdr, f.resp)
		}
		if err := writeBuffers(w, c.nc, bufs); err != nil {
			failed = true
			c.close()
			continue
		}
		if len(c.queue) == 0 {
			if err := w.Flush(); err != nil {
				failed = true
				c.close()
			}
		}
		if cap(buf) > 1<<20 {
			buf = nil
		}
	}
	if !failed {
		w.Flush()
	}
}

// writeBuffers writes bufs through w, or, when there are several (a
// Fetch response's records), flushes w and writes them to nc with one
// vectored write.
func writeBuffers(w *bufio.Writer, nc net.Conn, bufs [][]byte) error {
	if len(bufs) == 1 {
		_, err := w.Write(bufs[0])
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	nb := net.Buffers(bufs)
	_, err := nb.WriteTo(nc)
	return err
}

// answerUnsupportedApiVersions answers an ApiVersions request newer than
// we serve the way Kafka does: a v0 response with UNSUPPORTED_VERSION and
// our table, so the client retries with a version we know.
func (c *conn) answerUnsupportedApiVersions(hdr wire.Header) bool {
	hdr.Version, hdr.Flexible = 0, false
	f := c.enqueue(hdr, "ApiVersions")
	if f == nil {
		return false
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = apiVersionKeys()
	f.finish(resp)
	return true
}
