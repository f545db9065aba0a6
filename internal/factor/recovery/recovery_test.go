package recovery_test

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"gatehouse/internal/factor/recovery"
)

var canonical = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){4}$`)

// fixed returns a deterministic reader whose first 20 bytes are 0, 1, …, 19.
func fixed() io.Reader {
	first := make([]byte, 20)
	for i := range first {
		first[i] = byte(i)
	}
	return io.MultiReader(bytes.NewReader(first), rand.NewChaCha8([32]byte{1}))
}

func TestGenerate(t *testing.T) {
	codes, hashes, err := recovery.Generate(fixed())
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != recovery.Count || len(hashes) != recovery.Count {
		t.Fatalf("Generate made %d codes and %d hashes, want %d", len(codes), len(hashes), recovery.Count)
	}
	// The first 20 bytes 0..19 pick alphabet[0..19].
	if want := "0123-4567-89ab-cdef-ghjk"; codes[0] != want {
		t.Errorf("codes[0] = %q, want %q", codes[0], want)
	}
	seen := map[string]bool{}
	for i, c := range codes {
		if !canonical.MatchString(c) {
			t.Errorf("codes[%d] = %q, not in canonical form", i, c)
		}
		if seen[c] {
			t.Errorf("codes[%d] = %q repeats", i, c)
		}
		seen[c] = true
		if !bytes.Equal(hashes[i], recovery.Hash(c)) {
			t.Errorf("hashes[%d] is not Hash(codes[%d])", i, i)
		}
		if got, ok := recovery.Match(c, hashes); !ok || got != i {
			t.Errorf("Match(codes[%d]) = %d, %v; want %d, true", i, got, ok, i)
		}
	}
}

func TestGenerateCryptoRand(t *testing.T) {
	a, _, err := recovery.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := recovery.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	if a[0] == b[0] {
		t.Errorf("two Generate calls both made %q", a[0])
	}
}

func TestGenerateShortReader(t *testing.T) {
	// Enough for nine codes, not ten.
	if _, _, err := recovery.Generate(bytes.NewReader(make([]byte, 9*recovery.Length+5))); err == nil {
		t.Error("Generate with a short reader succeeded, want error")
	}
}

func TestHash(t *testing.T) {
	want := sha256.Sum256([]byte("gatehouse-recovery-v1\n0123-4567-89ab-cdef-ghjk"))
	if got := recovery.Hash("0123-4567-89ab-cdef-ghjk"); !bytes.Equal(got, want[:]) {
		t.Errorf("Hash = %x, want %x", got, want)
	}
	plain := sha256.Sum256([]byte("0123-4567-89ab-cdef-ghjk"))
	if bytes.Equal(recovery.Hash("0123-4567-89ab-cdef-ghjk"), plain[:]) {
		t.Error("Hash has no domain prefix")
	}
}

func TestNormalize(t *testing.T) {
	const want = "7k2m-9qxr-4c0t-hv3a-bn61"
	for _, in := range []string{
		want,
		"7K2M-9QXR-4C0T-HV3A-BN61",
		"7k2m9qxr4c0thv3abn61",
		"  7k2m 9qxr 4c0t hv3a bn61 ",
		"7k2m--9qxr-4c0t-hv3a-bn6-1",
		"7k2m-9qxr-4cOt-hv3a-bn6l", // O for 0, l for 1
		"7k2m-9qxr-4cot-hv3a-bn6I", // o for 0, I for 1
		"7k2m-9qxr-4c0t-hv3a-bn6i",
	} {
		got, err := recovery.Normalize(in)
		if err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q, nil", in, got, err, want)
		}
	}
}

func TestNormalizeRefuses(t *testing.T) {
	for _, in := range []string{
		"",
		"----",
		"7k2m-9qxr-4c0t-hv3a-bn6",   // 19 characters
		"7k2m-9qxr-4c0t-hv3a-bn611", // 21 characters
		"7k2m-9qxr-4c0t-hv3a-bnu1",  // u is not in the alphabet
		"7k2m_9qxr_4c0t_hv3a_bn61",
		"7k2m.9qxr.4c0t.hv3a.bn61",
		"7k2m\t9qxr4c0thv3abn61",
		"7k2m-9qxr-4c0t-hv3a-bn6\u00e9",
		"７k2m-9qxr-4c0t-hv3a-bn61", // full-width digit
		"7k2m-9qxr-4c0t-hv3a-bn61" + strings.Repeat(" ", 60),
	} {
		if got, err := recovery.Normalize(in); err != recovery.ErrMalformed {
			t.Errorf("Normalize(%q) = %q, %v; want ErrMalformed", in, got, err)
		}
	}
}

func TestMatch(t *testing.T) {
	codes, hashes, err := recovery.Generate(fixed())
	if err != nil {
		t.Fatal(err)
	}
	t.Run("OK/typed loosely", func(t *testing.T) {
		in := strings.ToUpper(strings.ReplaceAll(codes[3], "-", " "))
		if got, ok := recovery.Match(in, hashes); !ok || got != 3 {
			t.Errorf("Match(%q) = %d, %v; want 3, true", in, got, ok)
		}
	})
	t.Run("OK/duplicate hash picks first", func(t *testing.T) {
		dup := append([][]byte{hashes[0], hashes[5]}, hashes[5])
		if got, ok := recovery.Match(codes[5], dup); !ok || got != 1 {
			t.Errorf("Match = %d, %v; want 1, true", got, ok)
		}
	})
	used := append([][]byte(nil), hashes...)
	used[2] = nil
	other, _, _ := recovery.Generate(bytes.NewReader(bytes.Repeat([]byte{31}, 200)))
	tests := []struct {
		name   string
		input  string
		hashes [][]byte
	}{
		{"refused/used code", codes[2], used},
		{"refused/unknown code", other[0], hashes},
		{"refused/malformed", "not a code", hashes},
		{"refused/no hashes", codes[0], nil},
		{"refused/hash of raw code", codes[0], [][]byte{sha256Of(codes[0])}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, ok := recovery.Match(tt.input, tt.hashes); ok || got != -1 {
				t.Errorf("Match(%q) = %d, %v; want -1, false", tt.input, got, ok)
			}
		})
	}
}

func sha256Of(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"7k2m-9qxr-4c0t-hv3a-bn61", "7K2M 9QXR 4C0T HV3A BN6L", "", "u", "----------", "7k2m-9qxr-4c0t-hv3a-bn6\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := recovery.Normalize(in)
		if err != nil {
			if got != "" {
				t.Fatalf("Normalize(%q) = %q with error %v", in, got, err)
			}
			return
		}
		if !canonical.MatchString(got) {
			t.Fatalf("Normalize(%q) = %q, not canonical", in, got)
		}
		if again, err := recovery.Normalize(got); err != nil || again != got {
			t.Fatalf("Normalize(Normalize(%q)) = %q, %v; want %q", in, again, err, got)
		}
		if i, ok := recovery.Match(in, [][]byte{recovery.Hash(got)}); !ok || i != 0 {
			t.Fatalf("Match(%q) against its own hash = %d, %v", in, i, ok)
		}
	})
}
