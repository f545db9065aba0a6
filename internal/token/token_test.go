package token_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"gatehouse/internal/token"
)

// cycle is a fixed reader that yields 0, 1, …, 255, 0, 1, … for ever.
type cycle struct{ next byte }

func (c *cycle) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.next
		c.next++
	}
	return len(p), nil
}

func TestNew(t *testing.T) {
	got, err := token.New(bytes.NewReader([]byte{0xfb, 0xff, 0x00}), 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := "-_8A"; got != want {
		t.Errorf("New = %q, want %q (base64url, no padding)", got, want)
	}

	s, err := token.New(nil, 32)
	if err != nil {
		t.Fatal(err)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Errorf("New(nil, 32) = %q: decodes to %d bytes, err %v; want 32 bytes", s, len(b), err)
	}
	s2, _ := token.New(nil, 32)
	if s == s2 {
		t.Errorf("New(nil, 32) returned %q twice", s)
	}
}

func TestLengthRefused(t *testing.T) {
	for _, n := range []int{0, -1, token.MaxLen + 1} {
		if _, err := token.New(nil, n); !errors.Is(err, token.ErrLength) {
			t.Errorf("New(nil, %d) error = %v, want ErrLength", n, err)
		}
		if _, err := token.Bytes(nil, n); !errors.Is(err, token.ErrLength) {
			t.Errorf("Bytes(nil, %d) error = %v, want ErrLength", n, err)
		}
		if _, err := token.Digits(nil, n); !errors.Is(err, token.ErrLength) {
			t.Errorf("Digits(nil, %d) error = %v, want ErrLength", n, err)
		}
		if _, err := token.Base32Code(nil, n); !errors.Is(err, token.ErrLength) {
			t.Errorf("Base32Code(nil, %d) error = %v, want ErrLength", n, err)
		}
	}
}

func TestShortReader(t *testing.T) {
	short := func() io.Reader { return bytes.NewReader([]byte{1, 2}) }
	if _, err := token.New(short(), 3); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("New(short reader) error = %v, want io.ErrUnexpectedEOF", err)
	}
	if _, err := token.Digits(short(), 3); err == nil {
		t.Error("Digits(short reader) succeeded, want error")
	}
	if _, err := token.Base32Code(short(), 3); err == nil {
		t.Error("Base32Code(short reader) succeeded, want error")
	}
	if _, err := token.Intn(short(), 10); err == nil {
		t.Error("Intn(short reader) succeeded, want error")
	}
	boom := errors.New("boom")
	if _, err := token.Bytes(iotest.ErrReader(boom), 4); !errors.Is(err, boom) {
		t.Errorf("Bytes(failing reader) error = %v, want it to wrap %v", err, boom)
	}
}

func TestHash(t *testing.T) {
	want := sha256.Sum256([]byte("abc"))
	if got := token.Hash("abc"); !bytes.Equal(got, want[:]) {
		t.Errorf("Hash(abc) = %x, want %x", got, want)
	}
	// FIPS 180-2 example.
	if got, want := hex.EncodeToString(token.Hash("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("Hash(abc) = %s, want %s", got, want)
	}
}

func TestEqual(t *testing.T) {
	tests := []struct {
		a, b []byte
		want bool
	}{
		{[]byte("abc"), []byte("abc"), true},
		{[]byte("abc"), []byte("abd"), false},
		{[]byte("abc"), []byte("ab"), false},
		{nil, []byte{}, true},
		{nil, []byte{0}, false},
	}
	for _, tt := range tests {
		if got := token.Equal(tt.a, tt.b); got != tt.want {
			t.Errorf("Equal(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestDigitsRejectsHighBytes(t *testing.T) {
	// 250..255 would map to 0..5 under a plain modulo and must be skipped.
	r := bytes.NewReader([]byte{255, 250, 7, 251, 249, 10})
	got, err := token.Digits(r, 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := "790"; got != want {
		t.Errorf("Digits = %q, want %q", got, want)
	}
}

// TestDigitsUniform feeds every byte value the same number of times: an
// unbiased sampler then yields every digit exactly equally often, where
// byte%10 would give 0–5 one extra time per 256 bytes.
func TestDigitsUniform(t *testing.T) {
	const rounds = 4
	got, err := token.Digits(&cycle{}, 250*rounds)
	if err != nil {
		t.Fatal(err)
	}
	var counts [10]int
	for _, c := range got {
		if c < '0' || c > '9' {
			t.Fatalf("Digits returned %q, not a decimal digit", c)
		}
		counts[c-'0']++
	}
	for d, n := range counts {
		if n != 25*rounds {
			t.Errorf("digit %d appeared %d times, want %d (counts %v)", d, n, 25*rounds, counts)
		}
	}
}

func TestDigitsCryptoRand(t *testing.T) {
	got, err := token.Digits(nil, 6)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 || strings.Trim(got, "0123456789") != "" {
		t.Errorf("Digits(nil, 6) = %q, want 6 decimal digits", got)
	}
}

func TestBase32CodeUniform(t *testing.T) {
	got, err := token.Base32Code(&cycle{}, 256*3)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[rune]int{}
	for _, c := range got {
		counts[c]++
	}
	if len(counts) != 32 {
		t.Errorf("Base32Code used %d distinct characters, want 32", len(counts))
	}
	for c, n := range counts {
		if !strings.ContainsRune(token.Base32Alphabet, c) {
			t.Errorf("Base32Code returned %q, not in the alphabet", c)
		}
		if n != 8*3 {
			t.Errorf("character %q appeared %d times, want %d", c, n, 8*3)
		}
	}
	for _, c := range "ilou" {
		if strings.ContainsRune(token.Base32Alphabet, c) {
			t.Errorf("Base32Alphabet contains the ambiguous letter %q", c)
		}
	}
}

func TestIntn(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		n    int
		want int
	}{
		{"zero", []byte{0, 0, 0, 0}, 90, 0},
		{"small", []byte{0, 0, 0, 95}, 90, 5},
		// 2³² mod 90 = 76, so the 76 values from 2³²-76 = 0xffffffb4 up are rejected.
		{"rejected then kept", []byte{0xff, 0xff, 0xff, 0xb4, 0, 0, 0, 1}, 90, 1},
		{"largest rejected", []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2}, 90, 2},
		{"largest kept", []byte{0xff, 0xff, 0xff, 0xb3}, 90, 89},
		{"one", []byte{0xde, 0xad, 0xbe, 0xef}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := token.Intn(bytes.NewReader(tt.in), tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Intn(%x, %d) = %d, want %d", tt.in, tt.n, got, tt.want)
			}
		})
	}
	for _, n := range []int{0, -5, 1 << 31} {
		if _, err := token.Intn(nil, n); !errors.Is(err, token.ErrRange) {
			t.Errorf("Intn(nil, %d) error = %v, want ErrRange", n, err)
		}
	}
	for range 100 {
		v, err := token.Intn(nil, 90)
		if err != nil || v < 0 || v >= 90 {
			t.Fatalf("Intn(nil, 90) = %d, %v; want 0 <= v < 90", v, err)
		}
	}
}
