package deptest

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// transports are the doors: they decode a request, call a flow and
// render its answer.
var transports = []string{"internal/httpapi", "internal/web", "internal/extauthz"}

// TestTransportsCallNoStore keeps the rules in the flows: the transports'
// non-test code neither imports internal/store nor uses a method of its
// contract (store.Store, store.Tx and their parts, or a backend), not
// even through a flow's exported Store field. Whatever a door needs of
// the store, a flow reads for it, with the actor, and decides what the
// actor may see (their own sessions, factors, devices and trail).
func TestTransportsCallNoStore(t *testing.T) {
	inStore := func(path string) bool {
		return path == module+"internal/store" || strings.HasPrefix(path, module+"internal/store/")
	}
	exports, sources := exportData(t)
	for _, p := range transports {
		pkgPath := module + p
		names, ok := sources[pkgPath]
		if !ok {
			t.Errorf("%s: not found by go list: fix the rule", pkgPath)
			continue
		}
		fset := token.NewFileSet()
		files := parseFiles(t, fset, names)
		for _, f := range files {
			for _, imp := range f.Imports {
				if path := strings.Trim(imp.Path.Value, `"`); inStore(path) {
					t.Errorf("%s imports %s: a transport asks a flow, never the store", fset.Position(imp.Pos()), path)
				}
			}
		}
		info := &types.Info{Selections: map[*ast.SelectorExpr]*types.Selection{}}
		conf := types.Config{Importer: importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
			file, ok := exports[path]
			if !ok {
				return nil, fmt.Errorf("no export data for %s", path)
			}
			return os.Open(file)
		})}
		if _, err := conf.Check(pkgPath, fset, files, info); err != nil {
			t.Fatalf("type-check %s: %v", pkgPath, err)
		}
		for se, sel := range info.Selections {
			if sel.Kind() != types.MethodVal && sel.Kind() != types.MethodExpr {
				continue
			}
			if fn := sel.Obj(); fn.Pkg() != nil && inStore(fn.Pkg().Path()) {
				t.Errorf("%s: %s uses the store method %s: move it into a flow that takes the actor", fset.Position(se.Pos()), p, fn.Name())
			}
		}
	}
}

// exportData returns the compiled export data file of every package the
// transports depend on, built by go list -export, and the non-test Go
// files of each (those of this build).
func exportData(t *testing.T) (exports map[string]string, sources map[string][]string) {
	t.Helper()
	args := []string{"list", "-export", "-deps", "-f", `{{.ImportPath}} {{.Export}} {{.Dir}} {{join .GoFiles ","}}`}
	for _, p := range transports {
		args = append(args, module+p)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -export: %v", err)
	}
	exports, sources = map[string]string{}, map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 {
			continue
		}
		exports[f[0]] = f[1]
		for _, name := range strings.Split(f[3], ",") {
			sources[f[0]] = append(sources[f[0]], filepath.Join(f[2], name))
		}
	}
	return exports, sources
}

// parseFiles parses the named Go files.
func parseFiles(t *testing.T, fset *token.FileSet, names []string) []*ast.File {
	t.Helper()
	var files []*ast.File
	for _, name := range names {
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}
