package clienttext_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"gatehouse/internal/clienttext"
)

func TestClean(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"ASCII", "Mozilla/5.0 (X11; Linux x86_64)", "Mozilla/5.0 (X11; Linux x86_64)"},
		{"UTF8", "Firefox on Ubuntu — 日本", "Firefox on Ubuntu — 日本"},
		{"Empty", "", ""},
		{"Latin1", "Mozilla/5.0 (caf\xe9)", "Mozilla/5.0 (caf\uFFFD)"},
		{"InvalidRun", "a\xff\xfeb", "a\uFFFDb"},
		{"TruncatedRune", "ab\xe6\x97", "ab\uFFFD"},
		{"NUL", "a\x00b\x00", "ab"},
		{"NULAndInvalid", "\x00\xff", "\uFFFD"},
		{"Surrogate", "\xed\xa0\x80", "\uFFFD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clienttext.Clean(tt.in); got != tt.want {
				t.Errorf("Clean(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if got := clienttext.Valid(tt.in); got != (tt.in == tt.want) {
				t.Errorf("Valid(%q) = %v, want %v", tt.in, got, tt.in == tt.want)
			}
		})
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"", "ok", "caf\xe9", "\x00", "\xff\xfe", "日本\x00\xe6"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := clienttext.Clean(s)
		if !utf8.ValidString(got) || strings.ContainsRune(got, 0) {
			t.Fatalf("Clean(%q) = %q: not valid text", s, got)
		}
		if !clienttext.Valid(got) || clienttext.Clean(got) != got {
			t.Fatalf("Clean(%q) = %q is not a fixed point", s, got)
		}
		if clienttext.Valid(s) && got != s {
			t.Fatalf("Clean(%q) = %q changed valid text", s, got)
		}
	})
}

func TestPrintable(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		want bool
	}{
		{"alice", 8, true},
		{"zoë", 8, true},
		{"alice\r\nX-Injected: 1", 64, false},
		{"tab\there", 64, false},
		{"nul\x00", 64, false},
		{"\xff\xfe", 64, false},
		{"nine char", 8, false},
		{"", 8, true},
	} {
		if got := clienttext.Printable(c.s, c.n); got != c.want {
			t.Errorf("Printable(%q, %d) = %v, want %v", c.s, c.n, got, c.want)
		}
	}
}
