package cli_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// caddyGlobal is what a test instance of Caddy needs beyond the documented
// site blocks: no admin endpoint (port 2019 would be shared by every
// test), no certificates, logs in the test's directory. %[1]s is that
// directory, %[2]s the documented Caddyfile.
const caddyGlobal = `{
	admin off
	auto_https off
	storage file_system %[1]s/data
	log {
		output file %[1]s/caddy.log
		level INFO
	}
}

%[2]s
`

// caddyFromDocs returns the Caddyfile docs/integrations.md shows under
// "## Caddy (tested)", with the test's addresses, port and host names in
// place of the example's. As with nginx, a replacement that no longer
// finds its text fails the test.
func caddyFromDocs(t *testing.T, port int, gatehouse, trading string) string {
	t.Helper()
	blocks := docBlocks(t, "Caddy (tested)", "caddyfile")
	if len(blocks) != 1 {
		t.Fatalf("docs/integrations.md: %d caddyfile blocks under \"## Caddy (tested)\", want 1", len(blocks))
	}
	return docReplace(t, "Caddy", blocks[0], [][2]string{
		{"live.example.com, paper.example.com {", fmt.Sprintf("http://live.localhost:%[1]d, http://paper.localhost:%[1]d {", port)},
		{"portal.example.com {", fmt.Sprintf("http://portal.localhost:%d {", port)},
		{"gatehouse:8080", gatehouse},
		{"trading:9000", trading},
		{"portal_pages:8000", trading}, // the portal's pages: the same echo
	})
}

// findCaddy returns Debian's caddy, or skips the test (fails it under CI).
func findCaddy(t *testing.T) string {
	t.Helper()
	if path, err := exec.LookPath("caddy"); err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("caddy is not installed; CI must have it (scripts/test-deps.sh installs Debian's caddy)")
	}
	t.Skip("caddy is not installed; skipping the Caddy integration test (apt-get install caddy)")
	return ""
}

// startCaddy runs caddy with the documented Caddyfile in front of
// gatehouse and the trading API, and returns its port. It is stopped
// (SIGTERM, then killed) when the test ends.
func startCaddy(t *testing.T, gatehouse, trading string) int {
	t.Helper()
	bin := findCaddy(t)
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(caddyGlobal, dir, caddyFromDocs(t, port, gatehouse, trading))), 0o600); err != nil {
		t.Fatal(err)
	}
	// Caddy writes its autosave and data under HOME and XDG_*: keep them
	// in the test's directory.
	env := append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir+"/config", "XDG_DATA_HOME="+dir+"/data")
	validate := exec.Command(bin, "validate", "--adapter", "caddyfile", "--config", conf)
	validate.Env = env
	if out, err := validate.CombinedOutput(); err != nil {
		t.Fatalf("caddy validate: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "run", "--adapter", "caddyfile", "--config", conf)
	cmd.Env = env
	runProxy(t, "caddy", cmd, syscall.SIGTERM, filepath.Join(dir, "caddy.log"), port)
	return port
}

// TestCaddy puts Debian's caddy with forward_auth in front of a test
// trading API, with gatehouse deciding, on both stores: the checks of the
// nginx test, through Caddy's own header handling.
func TestCaddy(t *testing.T) {
	findCaddy(t)
	testProxy(t, "caddy", startCaddy)
}
