// Package docstest keeps the documents in docs/ honest: every test a
// document names as evidence must exist, so that a matrix of controls
// cannot go on citing a test that was renamed or deleted.
package docstest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// evidence matches a test cited as `internal/pkg/file_test.go:TestName`
// (or FuzzName, BenchmarkName).
var evidence = regexp.MustCompile("`((?:internal|cmd)/[^`:]+_test\\.go):((?:Test|Fuzz|Benchmark)[A-Za-z0-9_]+)`")

// root is the module root, two levels up from this package.
const root = "../.."

func TestSecurityMatrixCitesRealTests(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root, "docs", "security.md"))
	if err != nil {
		t.Fatal(err)
	}
	cites := evidence.FindAllStringSubmatch(string(doc), -1)
	if len(cites) < 40 {
		t.Fatalf("docs/security.md cites %d tests, want at least 40: is the citation format `path_test.go:TestName`?", len(cites))
	}
	files := map[string]string{}
	for _, c := range cites {
		file, name := c[1], c[2]
		src, ok := files[file]
		if !ok {
			b, err := os.ReadFile(filepath.Join(root, file))
			if err != nil {
				t.Errorf("docs/security.md cites %s, which does not exist", file)
				files[file] = ""
				continue
			}
			src = string(b)
			files[file] = src
		}
		if src != "" && !strings.Contains(src, "func "+name+"(") {
			t.Errorf("docs/security.md cites %s:%s, but %s has no func %s", file, name, file, name)
		}
	}
}

// row is one requirement line of the matrix: | **6.2.1** | … | status | evidence |.
var row = regexp.MustCompile(`(?m)^\| \*\*(\d+\.\d+\.\d+)\*\* \|.*$`)

func TestSecurityMatrixRowsHaveStatusAndEvidence(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root, "docs", "security.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := row.FindAllStringSubmatch(string(doc), -1)
	if len(rows) == 0 {
		t.Fatal("docs/security.md has no requirement rows")
	}
	statuses := []string{"met", "partly", "not met", "n/a"}
	for _, r := range rows {
		line := r[0]
		var has bool
		for _, s := range statuses {
			if strings.Contains(line, "| "+s+" |") {
				has = true
			}
		}
		if !has {
			t.Errorf("requirement %s has no status (one of %q): %s", r[1], statuses, line)
		}
		if strings.Contains(line, "| met |") && !evidence.MatchString(line) && !strings.Contains(line, "docs/") {
			t.Errorf("requirement %s is marked met but cites no test and no document: %s", r[1], line)
		}
	}
}
