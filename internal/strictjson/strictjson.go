// Package strictjson decodes JSON from outside the way every reader of it
// must agree on: one spelling of each key, one value per key, valid text.
//
// encoding/json matches object keys to struct fields without regard to
// case and keeps the last of duplicate keys, so
// {"username":"nobody","USERNAME":"maya"} is maya to gatehouse and nobody
// to a proxy, a WAF or an audit log that reads the first key. It also
// replaces invalid UTF-8 and lone surrogates with U+FFFD rather than
// refusing them. [Unmarshal] refuses all of these before decoding.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"
)

var (
	// ErrDuplicateKey reports an object that names one key twice, at any depth.
	ErrDuplicateKey = errors.New("strictjson: duplicate key")
	// ErrKeyCase reports a key that matches a field name only without regard to case.
	ErrKeyCase = errors.New("strictjson: key differs from a field name only in case")
	// ErrEncoding reports invalid UTF-8, a lone UTF-16 surrogate escape, or
	// NUL in a string or key.
	ErrEncoding = errors.New("strictjson: invalid text")
	// ErrDepth reports objects or arrays nested deeper than any body needs.
	ErrDepth = errors.New("strictjson: nested too deep")
	// ErrTrailing reports data after the one JSON value.
	ErrTrailing = errors.New("strictjson: data after the JSON value")
)

// KeyError is the key an [ErrDuplicateKey] or [ErrKeyCase] is about. For
// ErrKeyCase, Field is the field name the key must be spelled as; Key is
// what the client sent, which callers must not echo unbounded.
type KeyError struct {
	Err   error
	Key   string
	Field string
}

func (e *KeyError) Error() string { return fmt.Sprintf("%v: %q", e.Err, e.Key) }
func (e *KeyError) Unwrap() error { return e.Err }

// Unmarshal decodes exactly one JSON value from data into v, which must be
// a non-nil pointer. Beyond encoding/json's rules it refuses unknown
// fields, data after the value, duplicate keys at any depth, keys that
// match a struct field only without regard to case (and, in objects of
// no known type, two keys equal but for case), invalid UTF-8, lone
// surrogate escapes and NUL in strings. Syntax, type and unknown-field
// failures are encoding/json's own errors, so callers can tell them apart.
func Unmarshal(data []byte, v any) error {
	if err := Check(data, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// Check applies Unmarshal's rules to data as if decoded into a value of
// type t (nil: any), without decoding it.
func Check(data []byte, t reflect.Type) error {
	if !utf8.Valid(data) {
		return fmt.Errorf("%w: not UTF-8", ErrEncoding)
	}
	if err := checkEscapes(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := walk(dec, t, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return err
		}
		return ErrTrailing
	}
	return nil
}

// checkEscapes refuses \u escapes of NUL and of UTF-16 surrogates that do
// not form a pair, which encoding/json would decode to NUL or U+FFFD. A
// backslash outside a string is a syntax error left to the decoder, so
// the scan need not track strings.
func checkEscapes(data []byte) error {
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		if i+1 >= len(data) || data[i+1] != 'u' {
			i++ // \" \\ \n …: skip the escaped byte
			continue
		}
		r, ok := hex4(data[i+2:])
		if !ok {
			return nil // malformed: the decoder reports it with its offset
		}
		switch {
		case r == 0:
			return fmt.Errorf("%w: NUL in a string", ErrEncoding)
		case 0xDC00 <= r && r <= 0xDFFF:
			return fmt.Errorf("%w: lone surrogate escape", ErrEncoding)
		case 0xD800 <= r && r <= 0xDBFF:
			rest := data[i+6:]
			if len(rest) < 2 || rest[0] != '\\' || rest[1] != 'u' {
				return fmt.Errorf("%w: lone surrogate escape", ErrEncoding)
			}
			lo, ok := hex4(rest[2:])
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return fmt.Errorf("%w: lone surrogate escape", ErrEncoding)
			}
			i += 11
		default:
			i += 5
		}
	}
	return nil
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

var unmarshaler = reflect.TypeFor[json.Unmarshaler]()

// target strips pointers and returns nil for types whose keys are not
// field names: interfaces, and types that decode themselves (their
// duplicates are still refused).
func target(t reflect.Type) reflect.Type {
	for t != nil {
		if t.Implements(unmarshaler) || reflect.PointerTo(t).Implements(unmarshaler) {
			return nil
		}
		if t.Kind() != reflect.Pointer {
			return t
		}
		t = t.Elem()
	}
	return nil
}

// maxDepth bounds the nesting of objects and arrays: no body gatehouse
// reads nests deeper than a few levels, and walk recurses once per level.
const maxDepth = 32

// walk reads one value from dec, refusing what Unmarshal refuses. t is the
// type it decodes into, nil when unknown; depth is how deep it is nested.
func walk(dec *json.Decoder, t reflect.Type, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	if depth >= maxDepth && (tok == json.Delim('{') || tok == json.Delim('[')) {
		return ErrDepth
	}
	t = target(t)
	switch tok {
	case json.Delim('{'):
		var fs *fieldSet
		var elem reflect.Type
		if t != nil {
			switch t.Kind() {
			case reflect.Struct:
				fs = fieldsOf(t)
			case reflect.Map:
				elem = t.Elem()
			}
		}
		// An object of unknown type (json.RawMessage, any) is decoded later
		// by someone else, go-webauthn for instance, most likely into a
		// struct: two keys equal but for case would be ambiguous there.
		untyped := fs == nil && elem == nil
		var ks keySet
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := kt.(string)
			if err := ks.add(key, untyped); err != nil {
				return err
			}
			vt := elem
			if fs != nil {
				var exact bool
				vt, exact = fs.byName[key]
				if !exact {
					for name := range fs.byName {
						if strings.EqualFold(name, key) {
							return &KeyError{Err: ErrKeyCase, Key: key, Field: name}
						}
					}
				}
			}
			if err := walk(dec, vt, depth+1); err != nil {
				return err
			}
		}
		_, err := dec.Token()
		return err
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for dec.More() {
			if err := walk(dec, elem, depth+1); err != nil {
				return err
			}
		}
		_, err := dec.Token()
		return err
	}
	return nil
}

// keySet is the keys of one object seen so far. A few keys are compared
// in a slice, which allocates least for the small objects clients send;
// past smallKeys it switches to maps, so that a body of thousands of keys
// costs linear time, not quadratic.
type keySet struct {
	small  []string
	exact  map[string]struct{}
	folded map[string]string // lower case → the key as sent; untyped objects only
}

const smallKeys = 16

// add records key, refusing it if it was seen already or, when untyped,
// if a key equal but for case was.
func (ks *keySet) add(key string, untyped bool) error {
	if ks.exact == nil {
		for _, s := range ks.small {
			if s == key {
				return &KeyError{Err: ErrDuplicateKey, Key: key}
			}
			if untyped && strings.EqualFold(s, key) {
				return &KeyError{Err: ErrKeyCase, Key: key, Field: s}
			}
		}
		if len(ks.small) < smallKeys {
			ks.small = append(ks.small, key)
			return nil
		}
		ks.exact, ks.folded = map[string]struct{}{}, map[string]string{}
		for _, s := range ks.small {
			ks.exact[s] = struct{}{}
			ks.folded[strings.ToLower(s)] = s
		}
	}
	if _, dup := ks.exact[key]; dup {
		return &KeyError{Err: ErrDuplicateKey, Key: key}
	}
	lower := strings.ToLower(key)
	if s, ok := ks.folded[lower]; ok && untyped {
		return &KeyError{Err: ErrKeyCase, Key: key, Field: s}
	}
	ks.exact[key] = struct{}{}
	ks.folded[lower] = key
	return nil
}

// fieldSet is the JSON names of a struct's fields, promoted ones included.
type fieldSet struct {
	byName map[string]reflect.Type
}

var fieldCache sync.Map // reflect.Type → *fieldSet

func fieldsOf(t reflect.Type) *fieldSet {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(*fieldSet)
	}
	fs := &fieldSet{byName: map[string]reflect.Type{}}
	collect(t, fs, 0)
	fieldCache.Store(t, fs)
	return fs
}

// collect adds t's fields to fs: its own first, then those promoted from
// embedded structs, so a shallower field wins as in encoding/json.
func collect(t reflect.Type, fs *fieldSet, depth int) {
	var embedded []reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				embedded = append(embedded, et)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, dup := fs.byName[name]; !dup {
			fs.byName[name] = f.Type
		}
	}
	if depth < 8 {
		for _, et := range embedded {
			collect(et, fs, depth+1)
		}
	}
}
