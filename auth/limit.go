package auth

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter bounds failed authentications per source address: each address
// may fail Burst times at once and then once per Every; beyond that its
// attempts are refused without being checked until it has credit again.
// Safe for concurrent use.
type Limiter struct {
	every time.Duration
	burst int
	mu    sync.Mutex
	hosts map[string]*rate.Limiter
}

// maxHosts bounds the addresses remembered; past it, addresses back at
// full credit are forgotten.
const maxHosts = 10000

// NewLimiter returns a Limiter; every <= 0 disables it.
func NewLimiter(every time.Duration, burst int) *Limiter {
	return &Limiter{every: every, burst: max(burst, 1), hosts: map[string]*rate.Limiter{}}
}

// Allow reports whether host may attempt to authenticate now.
func (l *Limiter) Allow(host string) bool {
	if l == nil || l.every <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.hosts[host]
	return !ok || lim.Tokens() >= 1
}

// Failed records a failed attempt from host.
func (l *Limiter) Failed(host string) {
	if l == nil || l.every <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.hosts[host]
	if !ok {
		if len(l.hosts) >= maxHosts {
			for h, o := range l.hosts {
				if o.Tokens() >= float64(l.burst) {
					delete(l.hosts, h)
				}
			}
		}
		lim = rate.NewLimiter(rate.Every(l.every), l.burst)
		l.hosts[host] = lim
	}
	lim.Allow()
}
