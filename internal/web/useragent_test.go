package web

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestBrowserName(t *testing.T) {
	tests := []struct{ ua, want string }{
		{"Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0", "Firefox on Linux"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/139.0.0.0 Safari/537.36 Edg/139.0.0.0", "Edge on Windows"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Safari/605.1.15", "Safari on macOS"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1", "Safari on iOS"},
		{"Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/139.0.0.0 Mobile Safari/537.36", "Chrome on Android"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36", "Chrome on Linux"},
		{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/139.0.0.0 Safari/537.36", "Chrome on ChromeOS"},
		{"Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/139.0.0.0 Safari/537.36 OPR/120.0.0.0", "Opera on Windows"},
		{"curl/8.14.1", "Browser"},
		{"", "Browser"},
	}
	for _, tt := range tests {
		if got := browserName(tt.ua); got != tt.want {
			t.Errorf("browserName(%q) = %q, want %q", tt.ua, got, tt.want)
		}
	}
}

// FuzzBrowserName: whatever a client claims, the name is one of the fixed
// words, short enough for a device name, and never the client's own text.
func FuzzBrowserName(f *testing.F) {
	f.Add("Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0")
	f.Add("Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) Safari/604.1")
	f.Add("<script>alert(1)</script> Chrome/1 Windows")
	f.Add("\x00\xff")
	words := map[string]bool{"Edge": true, "Opera": true, "Firefox": true, "Chrome": true, "Safari": true, "Browser": true,
		"Android": true, "iOS": true, "Windows": true, "ChromeOS": true, "macOS": true, "Linux": true}
	f.Fuzz(func(t *testing.T, ua string) {
		got := browserName(ua)
		if len(got) > 64 || !utf8.ValidString(got) {
			t.Fatalf("browserName(%q) = %q: too long or not UTF-8", ua, got)
		}
		b, os, two := strings.Cut(got, " on ")
		if !words[b] || (two && !words[os]) {
			t.Fatalf("browserName(%q) = %q: not made of the fixed words", ua, got)
		}
	})
}
