package agent

import (
	"fmt"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/stratalog/strata/agent/kafka"
)

// TestReadmeAPITable: the README's table of served APIs is the handlers
// table, so the docs cannot drift from what ApiVersions answers.
func TestReadmeAPITable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	start := strings.Index(s, "<!-- api-table:start -->")
	end := strings.Index(s, "<!-- api-table:end -->")
	if start < 0 || end < start {
		t.Fatal("README.md has no api-table markers")
	}
	var want strings.Builder
	want.WriteString("\n| key | API | versions |\n|---|---|---|\n")
	for _, api := range kafka.ServedAPIs() {
		fmt.Fprintf(&want, "| %d | %s | %d–%d |\n", api.Key, api.Name, api.Min, api.Max)
	}
	got := s[start+len("<!-- api-table:start -->") : end]
	if got != want.String() {
		t.Fatalf("README api table is stale; replace it with:\n%s", want.String())
	}
}

func TestDefaultAdvertise(t *testing.T) {
	host, _ := os.Hostname()
	for _, tc := range []struct {
		addr *net.TCPAddr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9092}, "127.0.0.1:9092"},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 9092}, net.JoinHostPort(host, "9092")},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 19092}, net.JoinHostPort(host, "19092")},
		{&net.TCPAddr{IP: net.ParseIP("::1"), Port: 9092}, "[::1]:9092"},
	} {
		if got := defaultAdvertise(tc.addr); got != tc.want {
			t.Errorf("defaultAdvertise(%v) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}
