package agent

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// startAdmin serves /metrics, /healthz, /readyz and /debug/pprof/ on the
// admin listener.
func (a *Agent) startAdmin() error {
	ln, err := net.Listen("tcp", a.cfg.AdminListen)
	if err != nil {
		return fmt.Errorf("agent: admin listen: %w", err)
	}
	a.adminLn = ln
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(a.cfg.Gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if reason := a.notReady(); reason != "" {
			http.Error(w, "not ready: "+reason, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	a.admin = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go a.admin.Serve(ln)
	return nil
}

// notReady says why the agent should not get traffic ("" when ready): not
// serving yet, stopping, or uploads/commits failing for longer than a few
// flush intervals (nothing produced would become readable).
func (a *Agent) notReady() string {
	switch {
	case !a.readyOnce.Load():
		return "not serving yet"
	case a.closing.Load():
		return "shutting down"
	}
	limit := max(5*a.cfg.FlushInterval, time.Second)
	if d := a.flusher.FailingFor(); d > limit {
		return fmt.Sprintf("uploads or commits to object storage and the metastore have been failing for %v", d.Round(time.Millisecond))
	}
	return ""
}
