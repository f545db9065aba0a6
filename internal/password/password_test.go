package password_test

import (
	"errors"
	"strings"
	"testing"

	"gatehouse/internal/password"
)

// fast keeps the tests quick; parameters are checked separately.
var fast = password.Params{Memory: 64, Iterations: 1, Parallelism: 1}

func TestHashVerify(t *testing.T) {
	h := &password.Hasher{Params: fast}
	enc, err := h.Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("Hash = %q, want a PHC argon2id string", enc)
	}
	if strings.Contains(enc, "correct horse") {
		t.Fatal("hash contains the password")
	}
	ok, rehash, err := h.Verify("correct horse battery staple", enc)
	if !ok || rehash || err != nil {
		t.Errorf("Verify(right) = %v, %v, %v, want true, false, nil", ok, rehash, err)
	}
	ok, _, err = h.Verify("correct horse battery stapl", enc)
	if ok || err != nil {
		t.Errorf("Verify(wrong) = %v, %v, want false, nil", ok, err)
	}
	stronger := &password.Hasher{Params: password.Params{Memory: 128, Iterations: 1, Parallelism: 1}}
	if ok, rehash, _ := stronger.Verify("correct horse battery staple", enc); !ok || !rehash {
		t.Errorf("Verify with raised parameters = %v, rehash %v, want true, true", ok, rehash)
	}
	enc2, _ := h.Hash("correct horse battery staple")
	if enc2 == enc {
		t.Error("two hashes of one password are equal: salt not random")
	}
}

func TestVerifyMalformed(t *testing.T) {
	h := &password.Hasher{Params: fast}
	for _, enc := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=18$m=64,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=64,t=0,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=64,t=1,p=1$!!$a2V5", "plain"} {
		if _, _, err := h.Verify("x", enc); !errors.Is(err, password.ErrMalformedHash) {
			t.Errorf("Verify(%q) error = %v, want ErrMalformedHash", enc, err)
		}
	}
}

func TestParamsValid(t *testing.T) {
	tests := []struct {
		p  password.Params
		ok bool
	}{
		{password.DefaultParams(), true},
		{password.Params{Memory: 47104, Iterations: 1, Parallelism: 1}, true},
		{password.Params{Memory: 7168, Iterations: 5, Parallelism: 1}, true},
		{password.Params{Memory: 1024, Iterations: 2, Parallelism: 1}, false},
		{password.Params{Memory: 19456, Iterations: 1, Parallelism: 1}, false},
		{password.Params{Memory: 19456, Iterations: 2, Parallelism: 0}, false},
	}
	for _, tt := range tests {
		if err := tt.p.Valid(); (err == nil) != tt.ok {
			t.Errorf("%+v.Valid() = %v, want ok=%v", tt.p, err, tt.ok)
		}
	}
}

func TestRules(t *testing.T) {
	r := password.DefaultRules()
	tests := []struct {
		pw, user string
		want     error
	}{
		{"a very long unusual phrase", "alice", nil},
		{"short", "alice", password.ErrTooShort},
		{strings.Repeat("x", 129), "alice", password.ErrTooLong},
		{"password1234", "alice", password.ErrCommon},
		{"Password1234!", "alice", password.ErrCommon},
		{"qwertyqwerty", "alice", password.ErrCommon},
		{"trustno1trustno1", "alice", password.ErrCommon},
		{"alice-is-trading-now", "alice", password.ErrContext},
		{"my GateHouse login!", "alice", password.ErrContext},
		{"ab is short for abc", "ab", nil},
		{"\xff\xfe not utf8 at all", "alice", password.ErrEncoding},
		{"ünïcödé pässwörd", "alice", nil},
	}
	for _, tt := range tests {
		err := r.Check(tt.pw, tt.user)
		if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
			t.Errorf("Check(%q, %q) = %v, want %v", tt.pw, tt.user, err, tt.want)
		}
	}
}

func BenchmarkHashDefault(b *testing.B) {
	h := &password.Hasher{}
	for b.Loop() {
		h.Hash("correct horse battery staple")
	}
}

// Hashes counts every key computed, by Hash and by Verify alike: the
// server gives memory back after a burst of them.
func TestHashesCountsEveryKey(t *testing.T) {
	h := &password.Hasher{Params: fast}
	enc, err := h.Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	h.Verify("correct horse battery staple", enc)
	h.Verify("wrong", enc)
	if got, want := h.Hashes(), uint64(3); got != want {
		t.Errorf("Hashes() = %d, want %d", got, want)
	}
}
