// Package deptest enforces the import rules of the house style: the
// dependency direction is a test, not a convention.
package deptest

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const module = "gatehouse/"

// leaves are the pure domain packages: no I/O transports, no SQL, no store.
var leaves = []string{
	"internal/account", "internal/apikey", "internal/audit", "internal/device", "internal/dpop",
	"internal/password", "internal/policy", "internal/posture", "internal/session", "internal/throttle",
	"internal/token", "internal/user", "internal/flow", "internal/seal", "internal/webhook", "internal/fault",
	"internal/strictjson", "internal/clienttext", "internal/notice", "internal/secevent",
	"internal/factor", "internal/factor/totp", "internal/factor/recovery", "internal/factor/push", "internal/factor/sms",
	"internal/approval", "internal/signal", "internal/checkpoint",
	// internal/factor/webauthn is not a leaf: go-webauthn, which it wraps,
	// imports net/http for its protocol types.
}

// list returns, per package of the module, its imports (transitive when deps).
func list(t *testing.T, deps bool) map[string][]string {
	t.Helper()
	args := []string{"list", "-f", `{{.ImportPath}} {{join .Imports " "}}`}
	if deps {
		args = []string{"list", "-f", `{{.ImportPath}} {{join .Deps " "}}`}
	}
	cmd := exec.Command("go", append(args, "gatehouse/...")...)
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 {
			m[f[0]] = f[1:]
		}
	}
	return m
}

func TestLeavesArePure(t *testing.T) {
	deps := list(t, true)
	for _, leaf := range leaves {
		ds, ok := deps[module+leaf]
		if !ok {
			// A leaf renamed or removed: the list must follow, or the rule
			// silently stops covering it.
			t.Errorf("%s is listed as a domain package but does not exist", leaf)
			continue
		}
		for _, d := range ds {
			switch {
			case d == "net/http", d == "database/sql", d == module+"internal/store" || strings.HasPrefix(d, module+"internal/store/"):
				t.Errorf("%s imports %s: domain packages do no I/O", leaf, d)
			case strings.HasPrefix(d, module) && !isLeaf(strings.TrimPrefix(d, module)):
				t.Errorf("%s imports %s, which is not a domain package", leaf, d)
			}
		}
	}
}

func isLeaf(p string) bool {
	for _, l := range leaves {
		if p == l {
			return true
		}
	}
	return false
}

func TestSQLDriversOnlyInStores(t *testing.T) {
	for pkg, imports := range list(t, false) {
		if strings.HasPrefix(pkg, module+"internal/store/") { // the backends, and storetest which sets up their databases
			continue
		}
		for _, i := range imports {
			if strings.HasPrefix(i, "modernc.org/sqlite") || strings.HasPrefix(i, "github.com/jackc/pgx") {
				t.Errorf("%s imports the SQL driver %s; only the store packages may", pkg, i)
			}
		}
	}
}

func TestNoMathRand(t *testing.T) {
	for pkg, imports := range list(t, false) {
		for _, i := range imports {
			if i == "math/rand" || i == "math/rand/v2" {
				t.Errorf("%s imports %s: randomness comes from crypto/rand via internal/token", pkg, i)
			}
		}
	}
}

// TestNoProcessGlobals keeps os.Getenv and os.Args in cmd/: everything
// else receives its environment, so tests can run it in-process.
func TestNoProcessGlobals(t *testing.T) {
	bad := regexp.MustCompile(`\bos\.(Getenv|LookupEnv|Environ|Args)\b`)
	root := filepath.Join("..", "..", "internal")
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		if strings.Contains(path, "storetest") { // test support reads the test database URL
			return nil
		}
		src, _ := os.ReadFile(path)
		for i, line := range strings.Split(string(src), "\n") {
			if bad.MatchString(line) && !strings.HasPrefix(strings.TrimSpace(line), "//") {
				t.Errorf("%s:%d: %s outside cmd/", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
}

// bans are imports that would undo a seam, each with the reason: the
// importer must not depend on the imported package at all (directly or
// through another).
var bans = []struct{ from, to, why string }{
	// The portal and the API are two doors side by side: what they share
	// (cookie names, the client address) lives in internal/edge, and the
	// credential path in internal/authn.
	{"internal/web", "internal/httpapi", "the portal and the API share internal/edge and internal/authn, not each other"},
	// A factor is the general record; each kind's package holds its own
	// types (a push request is push.Request), not the other way round.
	{"internal/factor", "internal/factor/push", "a push request is push.Request: the general factor record knows no kind's package"},
}

func TestBannedImports(t *testing.T) {
	deps := list(t, true)
	for _, b := range bans {
		ds, ok := deps[module+b.from]
		if _, known := deps[module+b.to]; !ok || !known {
			t.Errorf("ban %s → %s names a package that does not exist: fix the rule", b.from, b.to)
			continue
		}
		for _, d := range ds {
			if d == module+b.to {
				t.Errorf("%s imports %s: %s", b.from, b.to, b.why)
			}
		}
	}
}
