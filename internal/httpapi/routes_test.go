package httpapi_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"gatehouse/internal/httpapi"
)

// TestRoutesDocumented checks every route registered in routes.go against
// openapi.yaml, and the reverse, so the document cannot drift.
func TestRoutesDocumented(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	var src []byte
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, b...)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(httpapi.OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	registered := map[string]bool{}
	for _, m := range regexp.MustCompile(`handle\("([A-Z]+) (/[^"]*)"`).FindAllStringSubmatch(string(src), -1) {
		method, path := strings.ToLower(m[1]), m[2]
		registered[method+" "+path] = true
		if _, ok := doc.Paths[path][method]; !ok {
			t.Errorf("route %s %s is not in openapi.yaml", m[1], path)
		}
	}
	if len(registered) < 5 {
		t.Fatalf("found only %d routes in routes.go: the pattern no longer matches", len(registered))
	}
	for path, ops := range doc.Paths {
		if !strings.HasPrefix(path, "/v1/") {
			continue // operations endpoints live in package server
		}
		for method := range ops {
			if !registered[method+" "+path] {
				t.Errorf("openapi.yaml documents %s %s, which no *.go file registers", strings.ToUpper(method), path)
			}
		}
	}
}
