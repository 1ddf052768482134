package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stratalog/strata/auth"
	"github.com/stratalog/strata/group"
	"github.com/stratalog/strata/metastore"
	"github.com/stratalog/strata/ownership"
	"github.com/stratalog/strata/partlog"
	"github.com/stratalog/strata/txn"
)

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("kafka: server closed")

// Config configures a Server. Fields without a stated default are
// required or may be zero.
type Config struct {
	// AgentID, NodeID, ClusterID identify this agent to clients.
	AgentID   string
	NodeID    int32
	ClusterID string
	// Host, Port and Rack are the address Metadata advertises for this
	// agent.
	Host string
	Port int32
	Rack string
	// DataDir is reported by DescribeLogDirs (its wal/ directory).
	DataDir string
	// MaxRequestBytes is socket.request.max.bytes: larger frames close the
	// connection. Default 100 MiB.
	MaxRequestBytes int32
	// AutoCreateTopics lets Metadata requests create missing topics.
	AutoCreateTopics bool
	// DefaultPartitions (num.partitions) and DefaultReplicationFactor are
	// used for auto-created topics and CreateTopics with -1. Defaults 1
	// and 3.
	DefaultPartitions        int32
	DefaultReplicationFactor int16
	// FlushBytes, FlushInterval and CacheBytes are reported as read-only
	// broker configs by DescribeConfigs.
	FlushBytes    int64
	FlushInterval time.Duration
	CacheBytes    int64
	// RetentionMs and RetentionBytes are the broker defaults of
	// retention.ms and retention.bytes (log.retention.ms,
	// log.retention.bytes) that DescribeConfigs reports for topics without
	// their own. Zero means Kafka's defaults, 7 days and -1.
	RetentionMs    int64
	RetentionBytes int64
	// TransactionVersion is the finalized level of the transaction.version
	// feature ApiVersions reports: 1 or 2 (KIP-890 part 2). Default 2.
	TransactionVersion int16
	// Listeners are the agent's listeners; Serve takes the first,
	// ServeListener any by name. Default: one PLAINTEXT listener
	// advertised at Host and Port.
	Listeners []Listener
	// Auth authenticates SASL listeners' clients; required when a
	// listener is SASL_PLAINTEXT or SASL_SSL.
	Auth *auth.Authenticator
	// AuthLimiter bounds failed authentications per source address.
	// Default: none.
	AuthLimiter *auth.Limiter
	// ReauthMs is connections.max.reauth.ms (KIP-368): a SASL session's
	// lifetime, told to clients in SaslAuthenticate v1+; past it a
	// connection must re-authenticate or is closed. 0: sessions do not
	// expire.
	ReauthMs int64
	// OnAuthenticated, if set, is called when a connection's principal is
	// established: after the TLS handshake of an SSL listener, after each
	// successful SASL exchange (re-authentications too). For tests.
	OnAuthenticated func(listener, principal string)
	// SuperUsers are the principals ("User:admin") the authorizer will let
	// do everything; kept for it, not used yet.
	SuperUsers []string
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
	// Registerer receives the request-layer metrics. Default: a new
	// registry.
	Registerer prometheus.Registerer
}

// Store is what the request layer asks of the metastore directly (topic
// admin, DeleteRecords, producer ids).
type Store interface {
	CreateTopic(ctx context.Context, t metastore.Topic) error
	DeleteTopic(ctx context.Context, name string) (metastore.Topic, error)
	SetTopicConfigs(ctx context.Context, name string, configs map[string]string) error
	AddPartitions(ctx context.Context, name string, total int32) (metastore.Topic, error)
	SetLogStartOffset(ctx context.Context, id metastore.TopicID, partition int32, offset int64) (int64, error)
	NextProducerID(ctx context.Context) (int64, error)
	RowCounts(ctx context.Context) ([]metastore.PartitionRows, error)
	PendingTxnOffsets(ctx context.Context, group string) ([]metastore.TxnPartition, error)
	AgentListeners(ctx context.Context) (map[string][]metastore.Listener, error)
	metastore.Users
}

// Deps are the subsystems the handlers call.
type Deps struct {
	Meta      Store
	Registry  *partlog.Registry
	Ownership *ownership.Manager
	Groups    *group.Coordinator
	Txns      *txn.Coordinator
}

// Server serves the Kafka protocol on listeners given to Serve.
type Server struct {
	cfg     Config
	log     *slog.Logger
	meta    Store
	reg     *partlog.Registry
	own     *ownership.Manager
	groups  *group.Coordinator
	txns    *txn.Coordinator
	metrics *metrics

	agentID   string
	nodeID    int32
	clusterID string
	listeners []Listener
	lcache    listenerCache

	closing atomic.Bool
	lnMu    sync.Mutex
	lns     []net.Listener
	connWG  sync.WaitGroup
	connsMu sync.Mutex
	conns   map[*conn]struct{}
}

// New returns a Server.
func New(cfg Config, d Deps) *Server {
	if cfg.MaxRequestBytes == 0 {
		cfg.MaxRequestBytes = 100 << 20
	}
	if cfg.DefaultPartitions == 0 {
		cfg.DefaultPartitions = 1
	}
	if cfg.DefaultReplicationFactor == 0 {
		cfg.DefaultReplicationFactor = 3
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	if cfg.TransactionVersion == 0 {
		cfg.TransactionVersion = 2
	}
	if len(cfg.Listeners) == 0 {
		cfg.Listeners = []Listener{{Name: Plaintext, Protocol: Plaintext, Host: cfg.Host, Port: cfg.Port}}
	}
	return &Server{
		cfg: cfg, log: cfg.Logger, meta: d.Meta, reg: d.Registry, own: d.Ownership, groups: d.Groups, txns: d.Txns,
		metrics: newMetrics(cfg.Registerer),
		agentID: cfg.AgentID, nodeID: cfg.NodeID, clusterID: cfg.ClusterID, listeners: cfg.Listeners,
		conns: map[*conn]struct{}{},
	}
}

// Serve accepts Kafka connections on ln as the first listener until
// Close.
func (srv *Server) Serve(ln net.Listener) error {
	return srv.ServeListener(ln, srv.listeners[0].Name)
}

// ServeListener accepts Kafka connections on ln as the listener called
// name until Close. The TLS handshake of SSL listeners happens on the
// connection's own goroutine, so a client stalling in it holds up no one.
func (srv *Server) ServeListener(ln net.Listener, name string) error {
	lst := srv.self(name)
	if lst == nil {
		ln.Close()
		return fmt.Errorf("kafka: no listener %q", name)
	}
	srv.lnMu.Lock()
	if srv.closing.Load() {
		srv.lnMu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	srv.lns = append(srv.lns, ln)
	srv.lnMu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if srv.closing.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		c := newConn(srv, nc, lst)
		srv.connsMu.Lock()
		if srv.closing.Load() {
			srv.connsMu.Unlock()
			nc.Close()
			return ErrServerClosed
		}
		srv.conns[c] = struct{}{}
		srv.connWG.Add(1)
		srv.connsMu.Unlock()
		go c.serve()
	}
}

// Close stops accepting, closes every connection and waits until their
// goroutines are done (requests waiting on durability are answered as
// their connections close). Safe to call more than once.
func (srv *Server) Close() {
	srv.closing.Store(true)
	srv.lnMu.Lock()
	for _, ln := range srv.lns {
		ln.Close()
	}
	srv.lnMu.Unlock()
	srv.connsMu.Lock()
	for c := range srv.conns {
		c.close()
	}
	srv.connsMu.Unlock()
	srv.connWG.Wait()
}
