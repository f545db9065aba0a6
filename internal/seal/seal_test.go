package seal_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"gatehouse/internal/seal"
)

func testKey(seed byte) []byte {
	k := make([]byte, seal.KeySize)
	for i := range k {
		k[i] = seed + byte(i)
	}
	return k
}

func newBox(t testing.TB, seed byte) *seal.Box {
	t.Helper()
	b, err := seal.New(testKey(seed))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	seed = []byte("12345678901234567890")
	rowA = []byte("user:alice\x00factor:7")
	rowB = []byte("user:mallory\x00factor:9")
)

func TestRoundTrip(t *testing.T) {
	b := newBox(t, 1)
	for _, pt := range [][]byte{seed, {}, bytes.Repeat([]byte{0xaa}, 1000)} {
		sealed, err := b.Seal(pt, rowA)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(sealed), 2+12+len(pt)+16; got != want {
			t.Errorf("len(Seal(%d bytes)) = %d, want %d", len(pt), got, want)
		}
		got, err := b.Open(sealed, rowA)
		if err != nil {
			t.Fatalf("Open(Seal(x)) error = %v", err)
		}
		if !bytes.Equal(got, pt) {
			t.Errorf("Open(Seal(%x)) = %x", pt, got)
		}
	}
}

// TestLayout checks the documented layout against an independent
// AES-256-GCM computation.
func TestLayout(t *testing.T) {
	b := newBox(t, 1)
	b.KeyID = 7
	b.Rand = bytes.NewReader([]byte("nonce-nonce-"))
	sealed, err := b.Seal(seed, rowA)
	if err != nil {
		t.Fatal(err)
	}
	if sealed[0] != seal.Version || sealed[1] != 7 {
		t.Errorf("header = %x, want %02x07", sealed[:2], seal.Version)
	}
	if got, want := string(sealed[2:14]), "nonce-nonce-"; got != want {
		t.Errorf("nonce = %q, want %q", got, want)
	}
	block, _ := aes.NewCipher(testKey(1))
	gcm, _ := cipher.NewGCM(block)
	ad := append([]byte{seal.Version, 7}, rowA...)
	want := gcm.Seal(nil, []byte("nonce-nonce-"), seed, ad)
	if !bytes.Equal(sealed[14:], want) {
		t.Errorf("ciphertext = %x, want %x", sealed[14:], want)
	}
	if id, err := seal.KeyID(sealed); err != nil || id != 7 {
		t.Errorf("KeyID = %d, %v; want 7, nil", id, err)
	}
}

func TestNoncesDiffer(t *testing.T) {
	b := newBox(t, 1)
	x, _ := b.Seal(seed, rowA)
	y, _ := b.Seal(seed, rowA)
	if bytes.Equal(x[2:14], y[2:14]) {
		t.Error("two Seals used the same nonce")
	}
}

func TestOpenRefuses(t *testing.T) {
	b := newBox(t, 1)
	sealed, err := b.Seal(seed, rowA)
	if err != nil {
		t.Fatal(err)
	}
	other := newBox(t, 2)
	rotated := newBox(t, 1)
	rotated.KeyID = 1
	badVersion := bytes.Clone(sealed)
	badVersion[0] = 2

	tests := []struct {
		name   string
		box    *seal.Box
		sealed []byte
		ad     []byte
		want   error
	}{
		{"ErrOpen/other row", b, sealed, rowB, seal.ErrOpen},
		{"ErrOpen/no associated data", b, sealed, nil, seal.ErrOpen},
		{"ErrOpen/other key", other, sealed, rowA, seal.ErrOpen},
		{"ErrKeyID", rotated, sealed, rowA, seal.ErrKeyID},
		{"ErrMalformed/version", b, badVersion, rowA, seal.ErrMalformed},
		{"ErrMalformed/short", b, sealed[:29], rowA, seal.ErrMalformed},
		{"ErrMalformed/empty", b, nil, rowA, seal.ErrMalformed},
		{"ErrOpen/truncated tag", b, sealed[:len(sealed)-1], rowA, seal.ErrOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.box.Open(tt.sealed, tt.ad)
			if !errors.Is(err, tt.want) {
				t.Errorf("Open error = %v, want %v", err, tt.want)
			}
			if got != nil {
				t.Errorf("Open returned %x on failure", got)
			}
		})
	}
}

// TestTamper flips each bit of a sealed value in turn: none may open.
func TestTamper(t *testing.T) {
	b := newBox(t, 1)
	sealed, err := b.Seal(seed, rowA)
	if err != nil {
		t.Fatal(err)
	}
	for i := range sealed {
		for bit := range 8 {
			c := bytes.Clone(sealed)
			c[i] ^= 1 << bit
			if pt, err := b.Open(c, rowA); err == nil {
				t.Fatalf("Open with bit %d of byte %d flipped = %x, want error", bit, i, pt)
			}
		}
	}
}

func TestSealRandError(t *testing.T) {
	b := newBox(t, 1)
	b.Rand = bytes.NewReader([]byte("short"))
	if _, err := b.Seal(seed, rowA); err == nil {
		t.Error("Seal with a short Rand succeeded, want error")
	}
}

func TestNewRefuses(t *testing.T) {
	for _, key := range [][]byte{nil, testKey(1)[:16], append(testKey(1), 0), make([]byte, 32), bytes.Repeat([]byte{'A'}, 32)} {
		if _, err := seal.New(key); !errors.Is(err, seal.ErrKey) {
			t.Errorf("New(%d-byte key) error = %v, want ErrKey", len(key), err)
		}
	}
}

func TestParseKey(t *testing.T) {
	key := testKey(0xf0) // encodings differ between alphabets
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		s := enc.EncodeToString(key)
		got, err := seal.ParseKey(" " + s + "\n")
		if err != nil {
			t.Errorf("ParseKey(%q) error = %v", s, err)
			continue
		}
		if !bytes.Equal(got, key) {
			t.Errorf("ParseKey(%q) = %x, want %x", s, got, key)
		}
	}

	secretLooking := base64.StdEncoding.EncodeToString(testKey(3)[:31])
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"blank", "  \n"},
		{"not base64", "this is not base64!"},
		{"hex", strings.Repeat("ab", 32)},
		{"short", secretLooking},
		{"long", base64.StdEncoding.EncodeToString(append(testKey(3), 1))},
		{"all zero", base64.StdEncoding.EncodeToString(make([]byte, 32))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := seal.ParseKey(tt.in)
			if !errors.Is(err, seal.ErrKey) {
				t.Fatalf("ParseKey(%q) error = %v, want ErrKey", tt.in, err)
			}
			if strings.TrimSpace(tt.in) != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.in)) {
				t.Errorf("ParseKey error %q repeats the key", err)
			}
		})
	}
}

func FuzzOpen(f *testing.F) {
	b, err := seal.New(testKey(1))
	if err != nil {
		f.Fatal(err)
	}
	b.Rand = bytes.NewReader([]byte("fixed nonce!")) // the same in every fuzz worker
	good, err := b.Seal(seed, rowA)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, rowA)
	f.Add(good[:20], rowA)
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, sealed, ad []byte) {
		pt, err := b.Open(sealed, ad)
		if err != nil {
			return
		}
		// Only the genuine value with its own row may open.
		if !bytes.Equal(sealed, good) || !bytes.Equal(ad, rowA) || !bytes.Equal(pt, seed) {
			t.Fatalf("Open(%x, %q) = %x, want an error", sealed, ad, pt)
		}
	})
}
