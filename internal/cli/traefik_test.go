package cli_test

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"gatehouse/internal/httpapi"
)

// TestTraefikConfig checks the Traefik configuration docs/integrations.md
// shows. No test runs Traefik (Debian has no package, and building it from
// the module proxy takes longer than CI has), so this one reads what the
// security of forward-auth depends on in it.
func TestTraefikConfig(t *testing.T) {
	blocks := docBlocks(t, "Traefik (configuration checked, not run)", "yaml")
	if len(blocks) != 1 {
		t.Fatalf("docs/integrations.md: %d yaml blocks under \"## Traefik (configuration checked, not run)\", want 1", len(blocks))
	}
	type forwardAuth struct {
		Address                  string   `yaml:"address"`
		TrustForwardHeader       *bool    `yaml:"trustForwardHeader"`
		AuthResponseHeaders      []string `yaml:"authResponseHeaders"`
		AuthResponseHeadersRegex string   `yaml:"authResponseHeadersRegex"`
		AuthRequestHeaders       []string `yaml:"authRequestHeaders"`
	}
	var conf struct {
		HTTP struct {
			Middlewares map[string]struct {
				ForwardAuth *forwardAuth `yaml:"forwardAuth"`
			} `yaml:"middlewares"`
			Routers map[string]struct {
				Rule        string   `yaml:"rule"`
				Middlewares []string `yaml:"middlewares"`
				Service     string   `yaml:"service"`
			} `yaml:"routers"`
		} `yaml:"http"`
	}
	dec := yaml.NewDecoder(strings.NewReader(blocks[0]))
	dec.KnownFields(true)
	if err := dec.Decode(&conf); err != nil {
		t.Fatalf("docs/integrations.md: the Traefik example: %v", err)
	}
	fa := conf.HTTP.Middlewares["gatehouse"].ForwardAuth
	if fa == nil {
		t.Fatal("docs/integrations.md: the Traefik example has no forwardAuth middleware named gatehouse")
	}
	if u, err := url.Parse(fa.Address); err != nil || u.Path != "/v1/authz" {
		t.Errorf("forwardAuth.address = %q, want gatehouse's /v1/authz", fa.Address)
	}
	if fa.TrustForwardHeader == nil || *fa.TrustForwardHeader {
		t.Error("forwardAuth.trustForwardHeader: want it written out as false (a client's X-Forwarded-* ignored)")
	}
	if len(fa.AuthResponseHeaders) != 0 {
		t.Error("forwardAuth.authResponseHeaders: want authResponseHeadersRegex, which also strips a client's copies of headers gatehouse leaves out")
	}
	re, err := regexp.Compile(fa.AuthResponseHeadersRegex)
	if err != nil {
		t.Fatalf("forwardAuth.authResponseHeadersRegex %q: %v", fa.AuthResponseHeadersRegex, err)
	}
	for _, h := range httpapi.IdentityHeaders {
		if !re.MatchString(h) {
			t.Errorf("forwardAuth.authResponseHeadersRegex %q does not match %s", fa.AuthResponseHeadersRegex, h)
		}
	}
	for _, h := range []string{"Authorization", "Cookie", "DPoP", "Accept", "Gatehouse-Account"} {
		if !slices.Contains(fa.AuthRequestHeaders, h) {
			t.Errorf("forwardAuth.authRequestHeaders %v lacks %s, which forward-auth reads", fa.AuthRequestHeaders, h)
		}
	}
	if len(conf.HTTP.Routers) == 0 {
		t.Error("the Traefik example has no router")
	}
	for name, r := range conf.HTTP.Routers {
		if !slices.Contains(r.Middlewares, "gatehouse") {
			t.Errorf("router %s does not use the gatehouse middleware", name)
		}
	}
}
