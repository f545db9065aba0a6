package config_test

import (
	"strings"
	"testing"

	"gatehouse/internal/config"
)

// /metrics has no access control: a separate metrics listener off
// loopback is refused unless the operator says so.
func TestValidateMetricsListen(t *testing.T) {
	for _, tc := range []struct {
		name    string
		metrics config.Metrics
		want    string // in the error; "" for none
	}{
		{"Unset", config.Metrics{}, ""},
		{"Loopback", config.Metrics{Listen: "127.0.0.1:9090"}, ""},
		{"LoopbackIPv6", config.Metrics{Listen: "[::1]:9090"}, ""},
		{"Localhost", config.Metrics{Listen: "localhost:9090"}, ""},
		{"AllInterfaces", config.Metrics{Listen: ":9090"}, "metrics.allow_remote"},
		{"Remote", config.Metrics{Listen: "0.0.0.0:9090"}, "not a loopback address"},
		{"RemoteAllowed", config.Metrics{Listen: "0.0.0.0:9090", AllowRemote: true}, ""},
		{"HostName", config.Metrics{Listen: "metrics.example.com:9090", AllowRemote: true}, "with an IP address"},
		{"NoPort", config.Metrics{Listen: "127.0.0.1"}, "want HOST:PORT"},
		{"SameAsListen", config.Metrics{Listen: "127.0.0.1:8080"}, "the same as listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := config.Default()
			c.Factors.SeedKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
			c.Metrics = tc.metrics
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate(%+v) = %v, want nil", tc.metrics, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate(%+v) = %v, want an error naming %q", tc.metrics, err, tc.want)
			}
		})
	}
}
