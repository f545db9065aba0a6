package setup

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// lineRE reads the line of a syntax error: yaml.v3 reports those only as
// text ("yaml: line 3: …"), having no node to carry it. Every other
// problem takes its line from a node.
var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// syntaxProblem turns a yaml syntax error into a problem with its line.
func syntaxProblem(err error) Problem {
	msg := err.Error()
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return Problem{Line: n, Msg: m[2]}
	}
	return Problem{Msg: strings.TrimPrefix(msg, "yaml: ")}
}

// index maps the fields of a document to their nodes.
type index struct {
	byPath  map[string]*yaml.Node
	aliases []entry
}

type entry struct {
	path string
	node *yaml.Node
}

func newIndex(doc *yaml.Node) *index {
	idx := &index{byPath: map[string]*yaml.Node{}}
	idx.walk(doc, "")
	return idx
}

func (idx *index) walk(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			idx.walk(c, path)
		}
		return
	case yaml.AliasNode:
		idx.aliases = append(idx.aliases, entry{path, n})
		return
	}
	if n.Anchor != "" {
		idx.aliases = append(idx.aliases, entry{path, n})
	}
	if _, ok := idx.byPath[path]; !ok {
		idx.byPath[path] = n
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			idx.walk(v, join(path, k.Value))
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			idx.walk(c, fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// line returns the line of path, or of its nearest ancestor present in
// the document (the mapping that lacks a required field).
func (idx *index) line(path string) int {
	for {
		if n, ok := idx.byPath[path]; ok {
			return n.Line
		}
		if path == "" {
			return 0
		}
		path = parent(path)
	}
}

// parent strips the last ".field" or "[i]" of path.
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// shapeProblems checks the node n against the Go type t that it will be
// decoded into, field by field: an unknown or repeated field, or a value
// of the wrong kind, is a problem at its node's line that names its
// field. It leaves the values themselves to the domain checks.
func shapeProblems(n *yaml.Node, t reflect.Type, path string) []Problem {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil // nothing: the zero value
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return []Problem{mismatch(n, t, path)}
		}
		fields := fieldsOf(t)
		var ps []Problem
		first := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			if line, seen := first[k.Value]; seen {
				ps = append(ps, Problem{Line: k.Line, Field: p, Msg: fmt.Sprintf("repeated field (first at line %d)", line)})
				continue
			}
			first[k.Value] = k.Line
			ft, ok := fields.byName[k.Value]
			if !ok {
				ps = append(ps, Problem{Line: k.Line, Field: p, Msg: fmt.Sprintf("unknown field %q (known: %s)", k.Value, strings.Join(fields.names, ", "))})
				continue
			}
			ps = append(ps, shapeProblems(v, ft, p)...)
		}
		return ps
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return []Problem{mismatch(n, t, path)}
		}
		var ps []Problem
		for i, c := range n.Content {
			ps = append(ps, shapeProblems(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return ps
	}
	if n.Kind != yaml.ScalarNode {
		return []Problem{mismatch(n, t, path)}
	}
	// A scalar: let the decoder say whether it reads as t (a number, true
	// or false…), on this node alone.
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		return []Problem{mismatch(n, t, path)}
	}
	return nil
}

// mismatch is the problem of a node that does not read as type t.
func mismatch(n *yaml.Node, t reflect.Type, path string) Problem {
	got := describeTag(n.ShortTag())
	if n.Kind == yaml.ScalarNode {
		got += " " + strconv.Quote(n.Value)
	}
	return Problem{Line: n.Line, Field: path, Msg: fmt.Sprintf("want %s, got %s", describeType(t), got)}
}

// structFields are the YAML field names of a struct type, in order.
type structFields struct {
	names  []string
	byName map[string]reflect.Type
}

func fieldsOf(t reflect.Type) structFields {
	f := structFields{byName: map[string]reflect.Type{}}
	for i := range t.NumField() {
		sf := t.Field(i)
		name := strings.Split(sf.Tag.Get("yaml"), ",")[0]
		f.names = append(f.names, name)
		f.byName[name] = sf.Type
	}
	return f
}

func describeTag(tag string) string {
	switch tag {
	case "!!map":
		return "a mapping"
	case "!!seq":
		return "a list"
	case "!!str":
		return "text"
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "true or false"
	case "!!null":
		return "nothing"
	}
	return tag
}

func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int:
		return "a whole number"
	case reflect.Bool:
		return "true or false (on or off)"
	case reflect.String:
		return "text"
	case reflect.Slice:
		return "a list"
	}
	return "a mapping"
}
