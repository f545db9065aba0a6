package apikey_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"testing"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
)

// counter is a deterministic stand-in for crypto/rand: it yields n, n+1, …
type counter struct{ n byte }

func (c *counter) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.n
		c.n++
	}
	return len(p), nil
}

func mustGenerate(t testing.TB, env account.Environment, r io.Reader) apikey.Token {
	t.Helper()
	tok, err := apikey.Generate(env, r)
	if err != nil {
		t.Fatalf("Generate(%q) = %v", env, err)
	}
	return tok
}

func TestGenerateGolden(t *testing.T) {
	// The format is a contract with secret scanners and client code: a
	// change here must be deliberate.
	tests := []struct {
		env  account.Environment
		want string
	}{
		{account.Live, "gatehouse_live_0123456789abcdef_ghjkmnpqrstvwxyz0123456789abcdefghjkmnpqrstvwxyz0123"},
		{account.Paper, "gatehouse_paper_0123456789abcdef_ghjkmnpqrstvwxyz0123456789abcdefghjkmnpqrstvwxyz0123"},
	}
	for _, tt := range tests {
		tok := mustGenerate(t, tt.env, &counter{})
		// want is all but the 7-character checksum, which is checked
		// against hash/crc32.
		body := tok.Key[:len(tok.Key)-apikey.SumLen]
		if body != tt.want {
			t.Errorf("Generate(%q).Key = %q, want %q + checksum", tt.env, tok.Key, tt.want)
		}
		sum := crc32.ChecksumIEEE([]byte(body))
		if got, want := tok.Key[len(body):], encodeSum(sum); got != want {
			t.Errorf("Generate(%q) checksum = %q, want %q (crc32 %#x)", tt.env, got, want, sum)
		}
		if got, want := tok.ID, "0123456789abcdef"; got != want {
			t.Errorf("Generate(%q).ID = %q, want %q", tt.env, got, want)
		}
		wantLen := map[account.Environment]int{account.Live: apikey.LiveLen, account.Paper: apikey.PaperLen}[tt.env]
		if len(tok.Key) != wantLen {
			t.Errorf("len(Generate(%q).Key) = %d, want %d", tt.env, len(tok.Key), wantLen)
		}
		secret := tok.Key[len(apikey.Prefix)+len(tt.env)+1+apikey.IDLen+1 : len(body)]
		if h := sha256.Sum256([]byte(secret)); !bytes.Equal(tok.Hash, h[:]) {
			t.Errorf("Generate(%q).Hash = %x, want SHA-256 of the secret %x", tt.env, tok.Hash, h)
		}
		if !strings.HasPrefix(tok.Key, "gatehouse_"+string(tt.env)+"_") {
			t.Errorf("Generate(%q).Key = %q, want prefix gatehouse_%s_", tt.env, tok.Key, tt.env)
		}
	}
}

// encodeSum is an independent base-32 encoding of a CRC, most significant
// digit first, in 7 digits.
func encodeSum(c uint32) string {
	var out [7]byte
	v := uint64(c)
	for i := 6; i >= 0; i-- {
		out[i] = apikey.Alphabet[v%32]
		v /= 32
	}
	return string(out[:])
}

func TestChecksumIsCRC32(t *testing.T) {
	for _, s := range []string{"", "a", "gatehouse_live_", strings.Repeat("\xff", 100)} {
		if got, want := apikey.Checksum(s), crc32.ChecksumIEEE([]byte(s)); got != want {
			t.Errorf("checksum(%q) = %#x, want %#x", s, got, want)
		}
	}
}

func TestGenerateParse(t *testing.T) {
	for _, env := range []account.Environment{account.Paper, account.Live} {
		tok := mustGenerate(t, env, nil)
		p, err := apikey.Parse(tok.Key)
		if err != nil {
			t.Fatalf("Parse(Generate(%q)) = %v", env, err)
		}
		if p.Environment != env || p.ID != tok.ID || tok.Environment != env {
			t.Errorf("Parse(Generate(%q)) = {%q, %q}, want {%q, %q}", env, p.Environment, p.ID, env, tok.ID)
		}
		if !p.Matches(tok.Hash) {
			t.Errorf("Parse(Generate(%q)).Matches(tok.Hash) = false, want true", env)
		}
		if got := p.Hash(); !bytes.Equal(got, tok.Hash) {
			t.Errorf("Parsed.Hash() = %x, want %x", got, tok.Hash)
		}
		other := mustGenerate(t, env, nil)
		if p.Matches(other.Hash) {
			t.Errorf("Matches(another key's hash) = true, want false")
		}
		if other.ID == tok.ID || other.Key == tok.Key {
			t.Errorf("two keys from crypto/rand are equal: %v, %v", tok, other)
		}
		for _, h := range [][]byte{nil, {}, tok.Hash[:31], append(append([]byte(nil), tok.Hash...), 0)} {
			if p.Matches(h) {
				t.Errorf("Matches(%x) = true, want false", h)
			}
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	if _, err := apikey.Generate("test", nil); !errors.Is(err, apikey.ErrEnvironment) {
		t.Errorf("Generate(test) = %v, want ErrEnvironment", err)
	}
	if _, err := apikey.Generate("", nil); !errors.Is(err, apikey.ErrEnvironment) {
		t.Errorf("Generate(\"\") = %v, want ErrEnvironment", err)
	}
	short := io.LimitReader(&counter{}, 20)
	if _, err := apikey.Generate(account.Live, short); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Generate with a short reader = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestParseErrors(t *testing.T) {
	live := mustGenerate(t, account.Live, &counter{}).Key
	paper := mustGenerate(t, account.Paper, &counter{n: 7}).Key
	flip := func(s string, i int, c byte) string { return s[:i] + string(c) + s[i+1:] }
	last := len(live) - 1
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"Empty", "", apikey.ErrNotKey},
		{"GitHubToken", "ghp_0123456789abcdefghijklmnopqrstuvwxyz", apikey.ErrNotKey},
		{"UpperPrefix", "GATEHOUSE" + live[len("gatehouse"):], apikey.ErrNotKey},
		{"PrefixOnly", "gatehouse_", apikey.ErrEnvironment},
		{"TestEnvironment", strings.Replace(live, "_live_", "_test_", 1), apikey.ErrEnvironment},
		{"UpperEnvironment", strings.Replace(live, "_live_", "_LIVE_", 1), apikey.ErrEnvironment},
		{"OtherEnvironmentSameBody", strings.Replace(live, "_live_", "_paper_", 1), apikey.ErrChecksum},
		{"Truncated", live[:len(live)-1], apikey.ErrMalformed},
		{"Extended", live + "0", apikey.ErrMalformed},
		{"TooLong", live + strings.Repeat("0", 1000), apikey.ErrMalformed},
		{"Whitespace", live + "\n", apikey.ErrMalformed},
		{"Dash", strings.Replace(live, "f_", "f-", 1), apikey.ErrMalformed},
		{"UpperCase", strings.ToUpper(live[:len(live)-10]) + live[len(live)-10:], apikey.ErrNotKey},
		{"UpperSecret", live[:40] + strings.ToUpper(live[40:]), apikey.ErrMalformed},
		{"LookAlike", flip(live, 40, 'l'), apikey.ErrMalformed},
		{"IDTypo", flip(live, 20, live[20]^1), apikey.ErrChecksum},
		{"SecretTypo", flip(live, 60, 'z'), apikey.ErrChecksum},
		{"ChecksumTypo", flip(live, last, map[bool]byte{true: '1', false: '0'}[live[last] == '0']), apikey.ErrChecksum},
		{"ChecksumOverflow", flip(live, last-6, 'z'), apikey.ErrChecksum},
		{"PaperTruncated", paper[:apikey.LiveLen], apikey.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := apikey.Parse(tt.in); err != tt.want {
				t.Errorf("Parse(%q) = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
}

// TestParseRefusesSingleChange checks the promise that a key with any one
// character changed, to anything, is refused without a look-up.
func TestParseRefusesSingleChange(t *testing.T) {
	for _, env := range []account.Environment{account.Live, account.Paper} {
		for seed := range 20 {
			key := mustGenerate(t, env, &counter{n: byte(seed * 13)}).Key
			b := []byte(key)
			for i := range b {
				orig := b[i]
				for c := range 256 {
					if byte(c) == orig {
						continue
					}
					b[i] = byte(c)
					if p, err := apikey.Parse(string(b)); err == nil {
						t.Fatalf("Parse(%q with [%d] = %q) = %v, nil; want an error", key, i, byte(c), p)
					}
				}
				b[i] = orig
			}
		}
	}
}

func TestParseRefusesTruncationAndDeletion(t *testing.T) {
	key := mustGenerate(t, account.Live, nil).Key
	for i := range key {
		if _, err := apikey.Parse(key[:i]); err == nil {
			t.Errorf("Parse(%q) = nil error, want an error", key[:i])
		}
		if _, err := apikey.Parse(key[:i] + key[i+1:]); err == nil {
			t.Errorf("Parse(key without [%d]) = nil error, want an error", i)
		}
	}
}

func TestSecretNotPrinted(t *testing.T) {
	tok := mustGenerate(t, account.Live, nil)
	p, err := apikey.Parse(tok.Key)
	if err != nil {
		t.Fatal(err)
	}
	secret := tok.Key[len(tok.Key)-apikey.SumLen-apikey.SecretLen : len(tok.Key)-apikey.SumLen]
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{tok, p, &tok, &p} {
			out := fmt.Sprintf(format, v)
			if strings.Contains(out, secret) {
				t.Errorf("Sprintf(%q, %T) = %q, shows the secret", format, v, out)
			}
			if !strings.Contains(out, tok.ID) {
				t.Errorf("Sprintf(%q, %T) = %q, want the ID %q in it", format, v, out, tok.ID)
			}
		}
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	key := mustGenerate(t, account.Live, nil).Key
	bad := key[:20] + "_" + key[21:]
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := apikey.Parse(key); err != nil {
			t.Fatal(err)
		}
		if _, err := apikey.Parse(bad); err == nil {
			t.Fatal("bad key accepted")
		}
	})
	if allocs != 0 {
		t.Errorf("Parse allocates %v times per call, want 0", allocs)
	}
}

func BenchmarkParse(b *testing.B) {
	key := mustGenerate(b, account.Live, nil).Key
	b.ReportAllocs()
	for b.Loop() {
		if _, err := apikey.Parse(key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseMatches(b *testing.B) {
	tok := mustGenerate(b, account.Live, nil)
	b.ReportAllocs()
	for b.Loop() {
		p, err := apikey.Parse(tok.Key)
		if err != nil || !p.Matches(tok.Hash) {
			b.Fatal(err)
		}
	}
}
