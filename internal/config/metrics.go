package config

import (
	"gatehouse/internal/notify"
	"net"
	"net/netip"
	"strings"
)

// Metrics says where the Prometheus metrics are served.
//
// /metrics has no access control of its own: it tells whoever reads it
// the login, failure and session rates. With Listen empty it is served on
// the main listener, as before, and the reverse proxy must not pass it
// on; with Listen set it is served only there, and the main listener
// answers it 404.
type Metrics struct {
	// Listen is a separate HOST:PORT for /metrics, e.g. 127.0.0.1:9090;
	// empty serves it on the main listener. It must be a loopback address
	// unless AllowRemote is set.
	Listen string `yaml:"listen"`
	// AllowRemote lets Listen be an address off loopback (a scraper on
	// another host, 0.0.0.0:9090 in a container): a deliberate choice,
	// since anyone who reaches it reads the metrics.
	AllowRemote bool `yaml:"allow_remote"`
}

func (c *Config) validateMetrics(bad func(string, ...any)) {
	m := c.Metrics
	if m.Listen == "" {
		return
	}
	host, port, err := net.SplitHostPort(m.Listen)
	if err != nil || port == "" {
		bad("metrics.listen %q: want HOST:PORT, e.g. 127.0.0.1:9090", m.Listen)
		return
	}
	_, err = netip.ParseAddr(host)
	loopback := notify.LoopbackHost(host)
	if host != "" && !strings.EqualFold(host, "localhost") && err != nil {
		bad("metrics.listen %q: want HOST:PORT with an IP address", m.Listen)
		return
	}
	if !loopback && !m.AllowRemote {
		bad("metrics.listen %q: not a loopback address; anyone who reaches it reads the metrics, so set metrics.allow_remote: true to mean it", m.Listen)
	}
	if m.Listen == c.Listen {
		bad("metrics.listen %q: the same as listen; leave it empty to serve /metrics there", m.Listen)
	}
}
