package main

import (
	"errors"
	"time"

	"github.com/spf13/pflag"

	"github.com/stratalog/strata/agent"
)

// addSecurityFlags declares the listener, TLS and SASL flags of `strata
// agent` (README "Security").
func addSecurityFlags(f *pflag.FlagSet) {
	f.String("listeners", "", "Kafka listeners NAME://host:port,... (names PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL or mapped by --listener-security-protocol-map); replaces --listen")
	f.String("advertised-listeners", "", "NAME://host:port,... given to clients per listener (default: each listener's address)")
	f.String("listener-security-protocol-map", "", "NAME:PROTOCOL,... for listener names that are not protocols")
	f.String("tls-cert-file", "", "PEM certificate (chain) of SSL and SASL_SSL listeners; reloaded when it changes")
	f.String("tls-key-file", "", "PEM private key of --tls-cert-file")
	f.String("tls-client-ca-file", "", "PEM CAs that client certificates are verified against")
	f.String("tls-client-auth", "none", "client certificates: required, requested or none")
	f.String("ssl-principal-mapping-rules", "DEFAULT", "map client certificate subjects to principals: RULE:pattern/replacement/[LU],...,DEFAULT")
	f.String("sasl-enabled-mechanisms", "SCRAM-SHA-256,SCRAM-SHA-512", "SASL mechanisms offered: SCRAM-SHA-256, SCRAM-SHA-512, PLAIN")
	f.Int64("connections-max-reauth-ms", 0, "SASL session lifetime; clients re-authenticate before it ends (0: sessions do not expire)")
	f.Int("sasl-failures-per-minute", 60, "failed SASL authentications allowed per client address and minute after the burst (-1: no limit)")
	f.Int("sasl-failure-burst", 10, "failed SASL authentications allowed at once per client address")
	f.String("super-users", "", "principals allowed everything by the authorizer, User:a;User:b")
}

// securityConfig fills the security fields of cfg.
func securityConfig(st *settings, from origins, cfg *agent.Config) {
	cfg.Listeners = st.str("listeners")
	cfg.AdvertisedListeners = st.str("advertised-listeners")
	cfg.ListenerSecurityProtocolMap = st.str("listener-security-protocol-map")
	cfg.TLSCertFile, cfg.TLSKeyFile = st.str("tls-cert-file"), st.str("tls-key-file")
	cfg.TLSClientCAFile, cfg.TLSClientAuth = st.str("tls-client-ca-file"), st.str("tls-client-auth")
	cfg.SSLPrincipalMappingRules = st.str("ssl-principal-mapping-rules")
	cfg.SASLEnabledMechanisms = st.str("sasl-enabled-mechanisms")
	cfg.ConnectionsMaxReauth = time.Duration(st.integer("connections-max-reauth-ms", 63)) * time.Millisecond
	cfg.AuthFailuresPerMinute = int(st.integer("sasl-failures-per-minute", 32))
	cfg.AuthFailureBurst = int(st.integer("sasl-failure-burst", 32))
	cfg.SuperUsers = st.str("super-users")
	if cfg.Listeners != "" {
		for _, old := range []string{"listen", "advertise"} {
			if given(st, from, old) {
				st.bad("listeners", errors.New("give either --listeners/--advertised-listeners or the older --listen/--advertise, not both ("+from.of(old)+" is set)"))
			}
		}
	}
}

// given reports whether a setting was set by flag, environment or file
// rather than left at its default.
func given(st *settings, from origins, key string) bool {
	return from.of(key) != "--"+key || (from.flags.Lookup(key) != nil && from.flags.Lookup(key).Changed)
}
