package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stratalog/strata/auth"
	"github.com/stratalog/strata/auth/tlsconf"
	"github.com/stratalog/strata/compaction"
	"github.com/stratalog/strata/group"
	"github.com/stratalog/strata/tiering"
)

// Config configures an agent. The zero value of every field means its
// default; call EnsureDefaults then Validate (New does both).
type Config struct {
	// DataDir holds the write-ahead buffer (wal/), the read cache (cache/),
	// the agent's ID file and, by default, the embedded metastore and the
	// local object store. Default "strata-data".
	DataDir string
	// Listen is the Kafka listener address. Default "127.0.0.1:9092".
	Listen string
	// Advertise is the host:port given to clients in Metadata. Default: the
	// address the listener is bound to, with the machine's hostname for an
	// unspecified host (0.0.0.0 or ::).
	Advertise string
	// AdminListen serves /metrics, /healthz, /readyz and pprof. Default
	// "127.0.0.1:9644"; "off" disables it.
	AdminListen string
	// MetastoreURL selects the metastore: sqlite://PATH. Default
	// sqlite://<DataDir>/meta.db.
	MetastoreURL string
	// ObjstoreURL selects the object store: file://DIR. Default
	// file://<DataDir>/objects.
	ObjstoreURL string
	// FlushInterval bounds how long buffered data waits to be sealed and
	// uploaded while an upload is in flight; with none in flight it is
	// sealed at once. Default 100ms.
	FlushInterval time.Duration
	// FlushMinInterval is the floor between two seals of objects smaller
	// than FlushBytes: a trickle costs at most one PUT per this interval.
	// Default 0 (none).
	FlushMinInterval time.Duration
	// FlushBytes is the object size target: with no upload in flight an
	// object is sealed at this size at the latest, beside another upload
	// at twice it. Default 8 MiB.
	FlushBytes int64
	// CacheBytes is the budget of the local disk cache of object ranges
	// read for historical fetches. Default 1 GiB.
	CacheBytes int64
	// TailBytes is the memory budget for recently flushed data kept to
	// serve tail consumers without object-store reads. Default 64 MiB.
	TailBytes int64
	// BufferBytes bounds data accepted but not yet uploaded; beyond it
	// produces fail with a retriable error until uploads catch up.
	// Default 256 MiB.
	BufferBytes int64
	// MaxRequestBytes is socket.request.max.bytes: larger frames close
	// the connection. Default 100 MiB.
	MaxRequestBytes int32
	// AutoCreateTopics lets Metadata requests create missing topics.
	// Default false.
	AutoCreateTopics bool
	// DefaultPartitions is num.partitions for auto-created topics and
	// CreateTopics with -1 partitions. Default 1.
	DefaultPartitions int32
	// DefaultReplicationFactor is reported for topics created with -1.
	// Default 3 (object storage replicates; see DESIGN.md).
	DefaultReplicationFactor int16
	// AgentID identifies this agent in the metastore. Default: a random ID
	// created once and kept in <DataDir>/agent-id.
	AgentID string
	// Rack is reported in Metadata. Default none.
	Rack string
	// LeaseTTL is how long the agent's registration lives without a
	// heartbeat. Default 3s.
	LeaseTTL time.Duration
	// PresenceInterval is how often the agent checks the other agents'
	// presence in the metastore (a Postgres advisory lock, a file lock
	// beside a SQLite file): one whose process died is treated as dead
	// within about two checks instead of at its lease's expiry. Default
	// 50ms; negative: off.
	PresenceInterval time.Duration
	// GroupMinSessionTimeout and GroupMaxSessionTimeout bound consumer
	// group members' session timeouts (Kafka's
	// group.min.session.timeout.ms and group.max.session.timeout.ms).
	// Defaults 6s and 30m.
	GroupMinSessionTimeout time.Duration
	GroupMaxSessionTimeout time.Duration
	// TxnMaxTimeout bounds transactional producers' transaction.timeout.ms
	// (Kafka's transaction.max.timeout.ms). Default 15m.
	TxnMaxTimeout time.Duration
	// TxnVersion is the transaction.version feature level clients are
	// offered: 2 (KIP-890 part 2, Kafka 4's default) or 1. Default 2.
	TxnVersion int16

	// Security: listeners, TLS and SASL (see README "Security").

	// Listeners are Kafka's listeners, "NAME://host:port,...", each with
	// a security protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL): a
	// name that is a protocol is that protocol, others are mapped by
	// ListenerSecurityProtocolMap. Default: Listen as one PLAINTEXT
	// listener (Listen and Advertise are ignored when Listeners is set).
	Listeners string
	// AdvertisedListeners are the addresses given to clients per listener
	// name, "NAME://host:port,...". Default: each listener's bound address
	// (the machine's hostname for an unspecified host).
	AdvertisedListeners string
	// ListenerSecurityProtocolMap is "NAME:PROTOCOL,...". Default: names
	// that are protocols map to themselves.
	ListenerSecurityProtocolMap string
	// TLSCertFile and TLSKeyFile are the PEM certificate and key of SSL
	// and SASL_SSL listeners, reloaded when the files change.
	TLSCertFile, TLSKeyFile string
	// TLSClientCAFile verifies client certificates; TLSClientAuth is
	// "none" (default), "requested" or "required".
	TLSClientCAFile, TLSClientAuth string
	// SSLPrincipalMappingRules map a client certificate's subject to a
	// principal (Kafka's ssl.principal.mapping.rules). Default "DEFAULT":
	// the full DN.
	SSLPrincipalMappingRules string
	// SASLEnabledMechanisms lists the SASL mechanisms offered. Default
	// "SCRAM-SHA-256,SCRAM-SHA-512"; PLAIN may be added.
	SASLEnabledMechanisms string
	// ConnectionsMaxReauth is connections.max.reauth.ms: SASL sessions
	// last this long and clients re-authenticate before. Default 0: no
	// expiry.
	ConnectionsMaxReauth time.Duration
	// AuthFailuresPerMinute and AuthFailureBurst bound failed SASL
	// authentications per client address: after Burst failures, one more
	// per 60s/PerMinute. Defaults 60 and 10; -1 disables.
	AuthFailuresPerMinute int
	AuthFailureBurst      int
	// SuperUsers is "User:a;User:b": principals the authorizer (to come)
	// lets do everything.
	SuperUsers string
	// OnAuthenticated, if set, sees every principal a connection
	// establishes (kafka.Config.OnAuthenticated). For tests.
	OnAuthenticated func(listener, principal string)

	// Read configures reads of compacted segments: read block size and
	// read-ahead (see tiering.ReaderConfig).
	Read tiering.ReaderConfig

	// Compaction configures the storage lifecycle (compaction, retention,
	// garbage collection) the agent runs for the partitions it owns.
	// Holder, Owns and OnLogStart are set by the agent.
	Compaction compaction.Config
	// NoCompaction turns the agent's lifecycle jobs off (when `strata
	// compactor` processes run them instead).
	NoCompaction bool

	// Logger receives the agent's logs. Default slog.Default().
	Logger *slog.Logger
	// Registerer receives the agent's metrics. Default: a new registry,
	// served on the admin listener.
	Registerer prometheus.Registerer
	// Gatherer is served on /metrics. Default: the registry above.
	Gatherer prometheus.Gatherer
}

// EnsureDefaults fills every zero field with its default.
func (c *Config) EnsureDefaults() {
	if c.DataDir == "" {
		c.DataDir = "strata-data"
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:9092"
	}
	if c.AdminListen == "" {
		c.AdminListen = "127.0.0.1:9644"
	}
	if c.MetastoreURL == "" {
		c.MetastoreURL = "sqlite://" + filepath.Join(c.DataDir, "meta.db")
	}
	if c.ObjstoreURL == "" {
		c.ObjstoreURL = "file://" + filepath.Join(c.DataDir, "objects")
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = 100 * time.Millisecond
	}
	if c.FlushBytes == 0 {
		c.FlushBytes = 8 << 20
	}
	if c.CacheBytes == 0 {
		c.CacheBytes = 1 << 30
	}
	if c.TailBytes == 0 {
		c.TailBytes = 64 << 20
	}
	if c.BufferBytes == 0 {
		c.BufferBytes = 256 << 20
	}
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = 100 << 20
	}
	if c.DefaultPartitions == 0 {
		c.DefaultPartitions = 1
	}
	if c.DefaultReplicationFactor == 0 {
		c.DefaultReplicationFactor = 3
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = 3 * time.Second
	}
	if c.GroupMinSessionTimeout == 0 {
		c.GroupMinSessionTimeout = group.DefaultMinSessionTimeout
	}
	if c.GroupMaxSessionTimeout == 0 {
		c.GroupMaxSessionTimeout = group.DefaultMaxSessionTimeout
	}
	if c.TxnMaxTimeout == 0 {
		c.TxnMaxTimeout = 15 * time.Minute
	}
	if c.TxnVersion == 0 {
		c.TxnVersion = 2
	}
	if c.SASLEnabledMechanisms == "" {
		c.SASLEnabledMechanisms = "SCRAM-SHA-256,SCRAM-SHA-512"
	}
	if c.SSLPrincipalMappingRules == "" {
		c.SSLPrincipalMappingRules = "DEFAULT"
	}
	if c.TLSClientAuth == "" {
		c.TLSClientAuth = "none"
	}
	if c.AuthFailuresPerMinute == 0 {
		c.AuthFailuresPerMinute = 60
	}
	if c.AuthFailureBurst == 0 {
		c.AuthFailureBurst = 10
	}
	c.Compaction.EnsureDefaults()
	c.Read.EnsureDefaults()
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Registerer == nil {
		reg := prometheus.NewRegistry()
		c.Registerer = reg
		if c.Gatherer == nil {
			c.Gatherer = reg
		}
	}
	if c.Gatherer == nil {
		c.Gatherer = prometheus.DefaultGatherer
	}
}

// Validate reports the first invalid setting.
func (c *Config) Validate() error {
	var errs []error
	cc := c.Compaction
	cc.Holder = "agent"
	if err := cc.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Read.Validate(); err != nil {
		errs = append(errs, err)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen %q: %v", c.Listen, err))
	}
	if c.Advertise != "" {
		if _, _, err := net.SplitHostPort(c.Advertise); err != nil {
			errs = append(errs, fmt.Errorf("advertise %q: %v", c.Advertise, err))
		}
	}
	if specs, err := c.listenerSpecs(); err != nil {
		errs = append(errs, err)
	} else {
		for _, s := range specs {
			if (s.protocol == "SSL" || s.protocol == "SASL_SSL") && (c.TLSCertFile == "" || c.TLSKeyFile == "") {
				errs = append(errs, fmt.Errorf("listeners: %s listener %s needs tls-cert-file and tls-key-file", s.protocol, s.name))
				break
			}
		}
	}
	if c.TLSClientAuth != "none" && c.TLSClientAuth != "" && c.TLSClientCAFile == "" {
		errs = append(errs, fmt.Errorf("tls-client-auth %s: needs tls-client-ca-file", c.TLSClientAuth))
	}
	if _, err := auth.ParseMechanisms(c.SASLEnabledMechanisms); err != nil {
		errs = append(errs, fmt.Errorf("sasl-enabled-mechanisms %q: %v", c.SASLEnabledMechanisms, err))
	}
	if _, err := tlsconf.ParseClientAuth(c.TLSClientAuth); err != nil {
		errs = append(errs, err)
	}
	if _, err := tlsconf.ParseRules(c.SSLPrincipalMappingRules); err != nil {
		errs = append(errs, err)
	}
	if _, err := parseSuperUsers(c.SuperUsers); err != nil {
		errs = append(errs, err)
	}
	if c.ConnectionsMaxReauth < 0 {
		errs = append(errs, fmt.Errorf("connections-max-reauth-ms %d: must not be negative", c.ConnectionsMaxReauth.Milliseconds()))
	}
	if c.AdminListen != "off" {
		if _, _, err := net.SplitHostPort(c.AdminListen); err != nil {
			errs = append(errs, fmt.Errorf("admin-listen %q: %v", c.AdminListen, err))
		}
	}
	if c.FlushInterval < time.Millisecond {
		errs = append(errs, fmt.Errorf("flush-interval %v: must be at least 1ms", c.FlushInterval))
	}
	if c.FlushMinInterval < 0 {
		errs = append(errs, fmt.Errorf("flush-min-interval %v: must not be negative", c.FlushMinInterval))
	}
	if c.TxnVersion != 1 && c.TxnVersion != 2 {
		errs = append(errs, fmt.Errorf("transaction-version %d: must be 1 or 2", c.TxnVersion))
	}
	if c.TxnMaxTimeout < time.Millisecond {
		errs = append(errs, fmt.Errorf("transaction-max-timeout-ms %d: must be at least 1", c.TxnMaxTimeout.Milliseconds()))
	}
	if c.FlushBytes < 1024 {
		errs = append(errs, fmt.Errorf("flush-bytes %d: must be at least 1024", c.FlushBytes))
	}
	if c.CacheBytes < 0 || c.TailBytes < 0 {
		errs = append(errs, errors.New("cache-bytes and tail-bytes must not be negative"))
	}
	if c.BufferBytes < c.FlushBytes {
		errs = append(errs, fmt.Errorf("buffer-bytes %d: must be at least flush-bytes %d", c.BufferBytes, c.FlushBytes))
	}
	if c.MaxRequestBytes < 1024 {
		errs = append(errs, fmt.Errorf("max-request-bytes %d: must be at least 1024", c.MaxRequestBytes))
	}
	if c.DefaultPartitions < 1 {
		errs = append(errs, fmt.Errorf("default-partitions %d: must be at least 1", c.DefaultPartitions))
	}
	if c.DefaultReplicationFactor < 1 || c.DefaultReplicationFactor > 3 {
		errs = append(errs, fmt.Errorf("default-replication-factor %d: must be 1..3", c.DefaultReplicationFactor))
	}
	if c.LeaseTTL < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("lease-ttl %v: must be at least 100ms", c.LeaseTTL))
	}
	return errors.Join(errs...)
}
