package web

import (
	"bytes"
	"encoding/base64"
	"image/color"
	"image/png"
	"path"
	"strings"
	"testing"

	"github.com/boombuler/barcode/qr"
)

// TestQRDataURL checks the QR image: a PNG in a data: URL, square, of
// whole modules, with a white quiet zone of four modules around the code
// that qr.Encode draws, module for module.
func TestQRDataURL(t *testing.T) {
	const uri = "otpauth://totp/gatehouse:alice?algorithm=SHA1&digits=6&issuer=gatehouse&period=30&secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	u, err := qrDataURL(uri)
	if err != nil {
		t.Fatal(err)
	}
	b64, ok := strings.CutPrefix(string(u), "data:image/png;base64,")
	if !ok {
		t.Fatalf("qrDataURL = %.40q…, want a PNG data: URL", u)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	code, _ := qr.Encode(uri, qr.M, qr.Auto)
	n := code.Bounds().Dx()
	size := img.Bounds().Dx()
	if size != img.Bounds().Dy() || size != (n+2*qrQuiet)*qrScale {
		t.Fatalf("image %v, want a square of %d px", img.Bounds(), (n+2*qrQuiet)*qrScale)
	}
	dark := func(x, y int) bool { return color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y < 128 }
	for y := 0; y < n+2*qrQuiet; y++ {
		for x := 0; x < n+2*qrQuiet; x++ {
			want := false
			if x >= qrQuiet && y >= qrQuiet && x < n+qrQuiet && y < n+qrQuiet {
				want = color.GrayModel.Convert(code.At(x-qrQuiet, y-qrQuiet)).(color.Gray).Y < 128
			}
			// The module's centre pixel and a corner: the module is one colour.
			for _, p := range [][2]int{{x*qrScale + qrScale/2, y*qrScale + qrScale/2}, {x * qrScale, y * qrScale}} {
				if got := dark(p[0], p[1]); got != want {
					t.Fatalf("module (%d,%d): dark %v, want %v", x, y, got, want)
				}
			}
		}
	}
	if len(raw) > 4096 {
		t.Errorf("PNG of %d bytes: the page carries it inline, keep it small", len(raw))
	}
}

func TestValidBack(t *testing.T) {
	for in, want := range map[string]string{
		"/factors": "/factors", "/devices": "/devices", "/keys/ACC-L/new": "/keys/ACC-L/new", "": "/",
		"https://evil.example/": "/", "//evil.example": "/", "/keys/../admin/new": "/", "/keys/../new": "/", "/keys/./new": "/", "/\\evil.example": "/", "/keys/ACC-L/new?x=1": "/",
	} {
		if got := validBack(in); got != want {
			t.Errorf("validBack(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzValidBack: whatever the form says, the step-up returns to a page of
// the portal: a local path, never one that a browser reads as another host.
func FuzzValidBack(f *testing.F) {
	for _, s := range []string{"/factors", "/keys/A/new", "//x", "/\\x", "https://x", "/keys/a b/new", "/keys/%2f/new"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := validBack(s)
		if got != "/" && got != s {
			t.Fatalf("validBack(%q) = %q: neither the input nor /", s, got)
		}
		if !strings.HasPrefix(got, "/") || path.Clean(got) != got || strings.ContainsAny(got, "\\?#%:@ \t\r\n") {
			t.Fatalf("validBack(%q) = %q, not a plain local path", s, got)
		}
	})
}

func TestGroups(t *testing.T) {
	for _, tt := range []struct{ in, want string }{{"", ""}, {"ABC", "ABC"}, {"ABCDEFGH", "ABCD EFGH"}, {"ABCDEFGHIJ", "ABCD EFGH IJ"}} {
		if got := groups(tt.in, 4); got != tt.want {
			t.Errorf("groups(%q, 4) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
