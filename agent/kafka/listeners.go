package kafka

import (
	"context"
	"crypto/tls"
	"sync"
	"time"

	"github.com/stratalog/strata/auth/tlsconf"
	"github.com/stratalog/strata/metastore"
)

// Security protocols of a listener (Kafka's security.protocol).
const (
	Plaintext     = "PLAINTEXT"
	SSL           = "SSL"
	SASLPlaintext = "SASL_PLAINTEXT"
	SASLSSL       = "SASL_SSL"
)

// Listener is one Kafka listener: its name, its security protocol and
// the address advertised to clients that connect to it.
type Listener struct {
	// Name is the listener's name (--listeners NAME://...).
	Name string
	// Protocol is PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
	Protocol string
	// Host and Port are this agent's advertised address on the listener.
	Host string
	Port int32
	// TLS is the server configuration of SSL and SASL_SSL listeners.
	TLS *tls.Config
	// Principals maps client certificates to principals (SSL). Default:
	// the full DN.
	Principals *tlsconf.PrincipalMapper
}

// SASL reports whether clients must authenticate with SASL.
func (l *Listener) SASL() bool { return l.Protocol == SASLPlaintext || l.Protocol == SASLSSL }

// UsesTLS reports whether the listener speaks TLS.
func (l *Listener) UsesTLS() bool { return l.Protocol == SSL || l.Protocol == SASLSSL }

// listenerCache is every agent's advertised listeners, read from the
// metastore when an agent shows up that it does not know and at most
// every listenerCacheAge otherwise (listeners change only when an agent
// restarts).
type listenerCache struct {
	mu struct {
		sync.Mutex
		byAgent map[string][]metastore.Listener
		read    time.Time
	}
}

const listenerCacheAge = 10 * time.Second

// addr returns agent's advertised address on the listener called name. An
// agent that registered no listeners (an older version) is reached on its
// registered host and port; one that has listeners but none of that name
// is not reachable there (ok false), as Kafka leaves such brokers out.
func (srv *Server) addr(ctx context.Context, ag metastore.Agent, name string) (host string, port int32, ok bool) {
	if ag.ID == srv.agentID {
		l := srv.self(name)
		if l == nil {
			return "", 0, false
		}
		return l.Host, l.Port, true
	}
	ls := srv.listenersOf(ctx, ag.ID)
	if ls == nil {
		return ag.Host, ag.Port, true
	}
	for _, l := range ls {
		if l.Name == name {
			return l.Host, l.Port, true
		}
	}
	return "", 0, false
}

// self is this agent's listener called name (nil if none).
func (srv *Server) self(name string) *Listener {
	for i := range srv.listeners {
		if srv.listeners[i].Name == name {
			return &srv.listeners[i]
		}
	}
	return nil
}

func (srv *Server) listenersOf(ctx context.Context, agentID string) []metastore.Listener {
	lc := &srv.lcache
	lc.mu.Lock()
	ls, known := lc.mu.byAgent[agentID]
	age := time.Since(lc.mu.read)
	lc.mu.Unlock()
	// An unknown agent is looked up again, but not more than once a second
	// (an agent of an older version has no listeners at all).
	if (known && age < listenerCacheAge) || (!known && age < time.Second) {
		return ls
	}
	all, err := srv.meta.AgentListeners(ctx)
	if err != nil {
		srv.log.Warn("read agent listeners", "err", err)
		return ls
	}
	lc.mu.Lock()
	lc.mu.byAgent, lc.mu.read = all, time.Now()
	lc.mu.Unlock()
	return all[agentID]
}
