package totp_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/factor/totp"
)

// rfcSecret is the RFC 6238 Appendix B SHA-1 seed, ASCII "12345678901234567890".
const rfcSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

// RFC 6238 Appendix B, SHA-1 rows.
var rfcVectors = []struct {
	unix int64
	step int64
	code string
}{
	{59, 0x1, "94287082"},
	{1111111109, 0x23523EC, "07081804"},
	{1111111111, 0x23523ED, "14050471"},
	{1234567890, 0x273EF07, "89005924"},
	{2000000000, 0x3F940AA, "69279037"},
	{20000000000, 0x27BC86AA, "65353130"},
}

func TestRFC6238Vectors(t *testing.T) {
	for _, v := range rfcVectors {
		now := time.Unix(v.unix, 0)
		if got := totp.Step(now); got != v.step {
			t.Errorf("Step(%d) = %#x, want %#x", v.unix, got, v.step)
		}
		got8, err := totp.Code(rfcSecret, v.step, 8)
		if err != nil {
			t.Fatal(err)
		}
		if got8 != v.code {
			t.Errorf("Code(step %#x, 8) = %s, want %s", v.step, got8, v.code)
		}
		want6 := v.code[2:]
		got6, err := totp.Code(rfcSecret, v.step, 6)
		if err != nil {
			t.Fatal(err)
		}
		if got6 != want6 {
			t.Errorf("Code(step %#x, 6) = %s, want %s", v.step, got6, want6)
		}
		step, err := totp.Verify(rfcSecret, want6, 0, now)
		if err != nil || step != v.step {
			t.Errorf("Verify(%s at %d) = %#x, %v; want %#x, nil", want6, v.unix, step, err, v.step)
		}
	}
}

func TestStep(t *testing.T) {
	tests := []struct {
		unix int64
		want int64
	}{
		{0, 0}, {29, 0}, {30, 1}, {-1, -1}, {-30, -1}, {-31, -2},
	}
	for _, tt := range tests {
		if got := totp.Step(time.Unix(tt.unix, 999_999_999)); got != tt.want {
			t.Errorf("Step(%d.999999999) = %d, want %d", tt.unix, got, tt.want)
		}
	}
}

func TestCodeRefuses(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		step   int64
		digits int
		want   error
	}{
		{"ErrDigits/5", rfcSecret, 1, 5, totp.ErrDigits},
		{"ErrDigits/9", rfcSecret, 1, 9, totp.ErrDigits},
		{"ErrStep", rfcSecret, -1, 6, totp.ErrStep},
		{"ErrSecret/not base32", "not base32!", 1, 6, totp.ErrSecret},
		{"ErrSecret/short", "GEZDGNBVGY3TQOJQ", 1, 6, totp.ErrSecret},
		{"ErrSecret/lower case", strings.ToLower(rfcSecret), 1, 6, totp.ErrSecret},
		{"ErrSecret/padded", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGE======", 1, 6, totp.ErrSecret},
		{"ErrSecret/empty", "", 1, 6, totp.ErrSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := totp.Code(tt.secret, tt.step, tt.digits); !errors.Is(err, tt.want) {
				t.Errorf("Code error = %v, want %v", err, tt.want)
			}
		})
	}
}

// at is an arbitrary fixed time in the middle of a step.
var at = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

func codeAt(t *testing.T, secret string, step int64) string {
	t.Helper()
	c, err := totp.Code(secret, step, 6)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestVerify(t *testing.T) {
	s := totp.Step(at)
	tests := []struct {
		name     string
		secret   string
		code     string
		lastStep int64
		want     int64
		wantErr  error
	}{
		{"OK/current", rfcSecret, codeAt(t, rfcSecret, s), 0, s, nil},
		{"OK/previous", rfcSecret, codeAt(t, rfcSecret, s-1), 0, s - 1, nil},
		{"OK/next", rfcSecret, codeAt(t, rfcSecret, s+1), 0, s + 1, nil},
		{"OK/after older use", rfcSecret, codeAt(t, rfcSecret, s), s - 1, s, nil},
		{"ErrInvalid/two steps back", rfcSecret, codeAt(t, rfcSecret, s-2), 0, 0, totp.ErrInvalid},
		{"ErrInvalid/two steps ahead", rfcSecret, codeAt(t, rfcSecret, s+2), 0, 0, totp.ErrInvalid},
		{"ErrInvalid/other secret", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", codeAt(t, rfcSecret, s), 0, 0, totp.ErrInvalid},
		{"ErrReplayed/same step", rfcSecret, codeAt(t, rfcSecret, s), s, 0, totp.ErrReplayed},
		{"ErrReplayed/older step", rfcSecret, codeAt(t, rfcSecret, s-1), s, 0, totp.ErrReplayed},
		{"ErrReplayed/later step used", rfcSecret, codeAt(t, rfcSecret, s), s + 1, 0, totp.ErrReplayed},
		{"ErrSecret", "GEZDGNBVGY3TQOJQ", "123456", 0, 0, totp.ErrSecret},
		// Malformed codes are refused before the secret is looked at.
		{"ErrMalformed/before secret", "not base32!", "12345", 0, 0, totp.ErrMalformed},
	}
	for _, code := range []string{"", "12345", "1234567", "12345a", " 123456", "123456 ", "12 456", "+12345", "-12345", "１２３４５６", "12345\x00", "٣٣٣٣٣٣"} {
		tests = append(tests, struct {
			name     string
			secret   string
			code     string
			lastStep int64
			want     int64
			wantErr  error
		}{fmt.Sprintf("ErrMalformed/%q", code), rfcSecret, code, 0, 0, totp.ErrMalformed})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := totp.Verify(tt.secret, tt.code, tt.lastStep, at)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Errorf("Verify(%q, last %d) = %d, %v; want %d, %v", tt.code, tt.lastStep, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestVerifyOnce walks a user through two logins: the code just used is
// refused, and the next step's code is accepted.
func TestVerifyOnce(t *testing.T) {
	s := totp.Step(at)
	c := codeAt(t, rfcSecret, s)
	last, err := totp.Verify(rfcSecret, c, 0, at)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := totp.Verify(rfcSecret, c, last, at.Add(5*time.Second)); !errors.Is(err, totp.ErrReplayed) {
		t.Errorf("second Verify of the same code error = %v, want ErrReplayed", err)
	}
	next := codeAt(t, rfcSecret, s+1)
	if got, err := totp.Verify(rfcSecret, next, last, at.Add(totp.Period)); err != nil || got != s+1 {
		t.Errorf("Verify(next step's code) = %d, %v; want %d, nil", got, err, s+1)
	}
}

func TestVerifyNearEpoch(t *testing.T) {
	// At step 0 the window's previous step is negative and skipped.
	c := codeAt(t, rfcSecret, 0)
	if got, err := totp.Verify(rfcSecret, c, -1, time.Unix(10, 0)); err != nil || got != 0 {
		t.Errorf("Verify at step 0 = %d, %v; want 0, nil", got, err)
	}
	if _, err := totp.Verify(rfcSecret, "000000", 0, time.Unix(-3600, 0)); !errors.Is(err, totp.ErrInvalid) {
		t.Errorf("Verify before the epoch error = %v, want ErrInvalid", err)
	}
}

func TestGenerate(t *testing.T) {
	seed := bytes.Repeat([]byte{0x42}, 20)
	k, err := totp.Generate("Gatehouse Demo", "alice@example.com", bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	if want := "IJBEEQSCIJBEEQSCIJBEEQSCIJBEEQSC"; k.Secret != want {
		t.Errorf("Secret = %q, want %q", k.Secret, want)
	}
	u, err := url.Parse(k.URI)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Gatehouse Demo:alice@example.com" {
		t.Errorf("URI = %q, want otpauth://totp/Gatehouse Demo:alice@example.com?…", k.URI)
	}
	q := u.Query()
	for name, want := range map[string]string{
		"secret": k.Secret, "issuer": "Gatehouse Demo", "algorithm": "SHA1", "digits": "6", "period": "30",
	} {
		if got := q.Get(name); got != want {
			t.Errorf("URI %s = %q, want %q", name, got, want)
		}
	}

	k, err = totp.Generate("Gatehouse", "bob", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(k.Secret) != 32 {
		t.Errorf("len(Secret) = %d, want 32 (160 bits)", len(k.Secret))
	}
	c := codeAt(t, k.Secret, totp.Step(at))
	if _, err := totp.Verify(k.Secret, c, 0, at); err != nil {
		t.Errorf("Verify with a generated secret: %v", err)
	}
}

func TestGenerateRefuses(t *testing.T) {
	tests := []struct {
		name, issuer, account string
		r                     io.Reader
		wantLabel             bool
	}{
		{"ErrLabel/empty issuer", "", "alice", nil, true},
		{"ErrLabel/empty account", "Gatehouse", "", nil, true},
		{"ErrLabel/colon in issuer", "Gate:house", "alice", nil, true},
		{"ErrLabel/colon in account", "Gatehouse", "a:lice", nil, true},
		{"short reader", "Gatehouse", "alice", bytes.NewReader(make([]byte, 19)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := totp.Generate(tt.issuer, tt.account, tt.r)
			if err == nil {
				t.Fatal("Generate succeeded, want error")
			}
			if got := errors.Is(err, totp.ErrLabel); got != tt.wantLabel {
				t.Errorf("Generate error = %v; errors.Is(ErrLabel) = %v, want %v", err, got, tt.wantLabel)
			}
		})
	}
}

func TestKeyRedacted(t *testing.T) {
	k, err := totp.Generate("Gatehouse", "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("enrol", "key", k)
	for _, out := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k), logged.String()} {
		if strings.Contains(out, k.Secret) {
			t.Errorf("formatted Key %q shows the secret", out)
		}
	}
}

// oathtool finds the oathtool binary (Debian package oathtool), skipping the
// test where it is missing, except under CI, which must install it.
func oathtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("oathtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("oathtool not installed; CI must install the Debian package oathtool")
		}
		t.Skip("oathtool not installed (apt-get install oathtool)")
	}
	return path
}

// runOathtool runs oathtool with the secret on standard input rather than
// on the command line, where other users could read it.
func runOathtool(t *testing.T, bin, secret string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(secret)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

func oathTime(tm time.Time) string { return tm.UTC().Format("2006-01-02 15:04:05 UTC") }

func TestOathtoolInterop(t *testing.T) {
	bin := oathtool(t)
	k, err := totp.Generate("Gatehouse", "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	times := []time.Time{at, time.Unix(59, 0), time.Date(2038, 1, 19, 3, 14, 8, 0, time.UTC), time.Unix(20000000000, 0)}
	for _, tm := range times {
		// oathtool generates, gatehouse verifies.
		theirs, err := runOathtool(t, bin, k.Secret, "--totp", "-b", "--now", oathTime(tm), "-")
		if err != nil {
			t.Fatal(err)
		}
		if step, err := totp.Verify(k.Secret, theirs, 0, tm); err != nil || step != totp.Step(tm) {
			t.Errorf("Verify(oathtool's code at %s) = %d, %v; want %d, nil", oathTime(tm), step, err, totp.Step(tm))
		}
		// gatehouse generates, oathtool verifies with no window.
		ours := codeAt(t, k.Secret, totp.Step(tm))
		if _, err := runOathtool(t, bin, k.Secret, "--totp", "-b", "-w", "0", "--now", oathTime(tm), "-", ours); err != nil {
			t.Errorf("oathtool refused our code at %s: %v", oathTime(tm), err)
		}
		// And oathtool's 8-digit code ends with our 6 digits.
		theirs8, err := runOathtool(t, bin, k.Secret, "--totp", "-b", "-d", "8", "--now", oathTime(tm), "-")
		if err != nil {
			t.Fatal(err)
		}
		if ours8, _ := totp.Code(k.Secret, totp.Step(tm), 8); ours8 != theirs8 || !strings.HasSuffix(theirs8, ours) {
			t.Errorf("8-digit code at %s: ours %s, oathtool %s", oathTime(tm), ours8, theirs8)
		}
	}
	// A wrong code is refused by oathtool too, so the check above has teeth.
	wrong := codeAt(t, k.Secret, totp.Step(at)+5)
	if _, err := runOathtool(t, bin, k.Secret, "--totp", "-b", "-w", "0", "--now", oathTime(at), "-", wrong); err == nil {
		t.Error("oathtool accepted a code five steps off")
	}
}

func FuzzVerify(f *testing.F) {
	s := totp.Step(at)
	good, err := totp.Code(rfcSecret, s, 6)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{good, "000000", "12345", "1234567", "١٢٣٤٥٦", "12345\n", "abcdef"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, code string) {
		step, err := totp.Verify(rfcSecret, code, 0, at)
		wellFormed := len(code) == 6 && strings.Trim(code, "0123456789") == ""
		if errors.Is(err, totp.ErrMalformed) == wellFormed {
			t.Fatalf("Verify(%q) error = %v, but well-formed = %v", code, err, wellFormed)
		}
		if err != nil {
			if step != 0 {
				t.Fatalf("Verify(%q) = %d with error %v, want step 0", code, step, err)
			}
			return
		}
		if step < s-1 || step > s+1 {
			t.Fatalf("Verify(%q) = step %d, outside %d±1", code, step, s)
		}
		if want, _ := totp.Code(rfcSecret, step, 6); want != code {
			t.Fatalf("Verify(%q) accepted step %d, whose code is %s", code, step, want)
		}
	})
}
