package agent

import (
	"strings"
	"testing"
)

func TestListenerSpecs(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string // name/protocol/bind/advertise; ...
		err  string
	}{
		{cfg: Config{Listen: "127.0.0.1:9092", Advertise: "h:1"}, want: "PLAINTEXT/PLAINTEXT/127.0.0.1:9092/h:1"},
		{cfg: Config{Listeners: "plaintext://:9092, SASL_SSL://0.0.0.0:9093", AdvertisedListeners: "SASL_SSL://k.example:9093"},
			want: "PLAINTEXT/PLAINTEXT/:9092/;SASL_SSL/SASL_SSL/0.0.0.0:9093/k.example:9093"},
		{cfg: Config{Listeners: "INTERNAL://10.0.0.1:9092,EXTERNAL://:9093", ListenerSecurityProtocolMap: "internal:plaintext,EXTERNAL:SASL_SSL"},
			want: "INTERNAL/PLAINTEXT/10.0.0.1:9092/;EXTERNAL/SASL_SSL/:9093/"},
		{cfg: Config{Listeners: "SSL://:9092", ListenerSecurityProtocolMap: "SSL:SASL_SSL"}, want: "SSL/SASL_SSL/:9092/"},
		{cfg: Config{Listeners: "A://:1"}, err: "no security protocol"},
		{cfg: Config{Listeners: "PLAINTEXT://:1,PLAINTEXT://:2"}, err: "named twice"},
		{cfg: Config{Listeners: "PLAINTEXT://:1,SSL://:1"}, err: "both use port 1"},
		{cfg: Config{Listeners: "PLAINTEXT://:0,SSL://:0"}, want: "PLAINTEXT/PLAINTEXT/:0/;SSL/SSL/:0/"},
		{cfg: Config{Listeners: "PLAINTEXT://nohost"}, err: "listeners"},
		{cfg: Config{Listeners: "PLAINTEXT://:99999"}, err: "bad port"},
		{cfg: Config{Listeners: "PLAIN TEXT://:1"}, err: "letters, digits"},
		{cfg: Config{Listeners: ","}, err: "no listener"},
		{cfg: Config{Listeners: "A://:1", ListenerSecurityProtocolMap: "A:TLS"}, err: "listener-security-protocol-map"},
		{cfg: Config{Listeners: "PLAINTEXT://:1", AdvertisedListeners: "SSL://h:1"}, err: "not in listeners"},
		{cfg: Config{Listeners: "PLAINTEXT://:1", AdvertisedListeners: "PLAINTEXT://:1"}, err: "cannot dial"},
	} {
		specs, err := tc.cfg.listenerSpecs()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: error %v, want %q", tc.cfg, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%+v: %v", tc.cfg, err)
			continue
		}
		var got []string
		for _, s := range specs {
			got = append(got, s.name+"/"+s.protocol+"/"+s.bind+"/"+s.advertise)
		}
		if strings.Join(got, ";") != tc.want {
			t.Errorf("%+v: %q, want %q", tc.cfg, strings.Join(got, ";"), tc.want)
		}
	}
}

func TestParseSuperUsers(t *testing.T) {
	got, err := parseSuperUsers(" User:admin ; User:ops;")
	if err != nil || strings.Join(got, ",") != "User:admin,User:ops" {
		t.Fatalf("%q %v", got, err)
	}
	for _, bad := range []string{"admin", "User:", ":x"} {
		if _, err := parseSuperUsers(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
