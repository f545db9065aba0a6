package push_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/factor/push"
)

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fixedKey returns the same P-256 key in every process, so that fuzz seeds
// made by the parent verify in the fuzzing workers too.
func fixedKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	d := sha256.Sum256([]byte("gatehouse push test key"))
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var signedAt = time.Unix(1748779230, 0).UTC()

var goodResp = push.Response{ChallengeID: "Zm9vYmFyYmF6cXV4cXV1eA", Decision: push.Approve, Number: 42, SignedAt: signedAt}

func TestMessage(t *testing.T) {
	got, err := push.Message(goodResp)
	if err != nil {
		t.Fatal(err)
	}
	want := "gatehouse-push-v1\n" +
		"challenge_id=Zm9vYmFyYmF6cXV4cXV1eA\n" +
		"decision=approve\n" +
		"number=42\n" +
		"signed_at=1748779230\n"
	if string(got) != want {
		t.Errorf("Message =\n%q\nwant\n%q", got, want)
	}
}

func TestMessageRefuses(t *testing.T) {
	mod := func(f func(*push.Response)) push.Response {
		r := goodResp
		f(&r)
		return r
	}
	tests := map[string]push.Response{
		"empty id":          mod(func(r *push.Response) { r.ChallengeID = "" }),
		"newline in id":     mod(func(r *push.Response) { r.ChallengeID = "abc\ndecision=approve" }),
		"equals in id":      mod(func(r *push.Response) { r.ChallengeID = "a=b" }),
		"long id":           mod(func(r *push.Response) { r.ChallengeID = strings.Repeat("a", 65) }),
		"unknown decision":  mod(func(r *push.Response) { r.Decision = "APPROVE" }),
		"empty decision":    mod(func(r *push.Response) { r.Decision = "" }),
		"negative number":   mod(func(r *push.Response) { r.Number = -1 }),
		"number 100":        mod(func(r *push.Response) { r.Number = 100 }),
		"zero time":         mod(func(r *push.Response) { r.SignedAt = time.Time{} }),
		"epoch":             mod(func(r *push.Response) { r.SignedAt = time.Unix(0, 0) }),
		"before epoch":      mod(func(r *push.Response) { r.SignedAt = time.Unix(-5, 0) }),
		"after 9999":        mod(func(r *push.Response) { r.SignedAt = time.Unix(253402300800, 0) }),
		"fraction of a sec": mod(func(r *push.Response) { r.SignedAt = signedAt.Add(time.Millisecond) }),
	}
	for name, r := range tests {
		t.Run("ErrMalformed/"+name, func(t *testing.T) {
			if _, err := push.Message(r); !errors.Is(err, push.ErrMalformed) {
				t.Errorf("Message(%+v) error = %v, want ErrMalformed", r, err)
			}
			if _, err := push.Sign(newKey(t), r); !errors.Is(err, push.ErrMalformed) {
				t.Errorf("Sign(%+v) error = %v, want ErrMalformed", r, err)
			}
		})
	}
}

func TestSignVerify(t *testing.T) {
	key := newKey(t)
	sig, err := push.Sign(key, goodResp)
	if err != nil {
		t.Fatal(err)
	}
	if err := push.Verify(&key.PublicKey, goodResp, sig); err != nil {
		t.Fatalf("Verify(Sign(x)) error = %v", err)
	}
	// The signature is plain ECDSA P-256 over SHA-256 of the documented
	// bytes, as a phone makes it.
	digest := sha256.Sum256([]byte("gatehouse-push-v1\nchallenge_id=Zm9vYmFyYmF6cXV4cXV1eA\ndecision=approve\nnumber=42\nsigned_at=1748779230\n"))
	if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
		t.Error("signature does not verify over the documented message")
	}
	// A phone's signature made independently verifies too.
	phoneSig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	if err := push.Verify(&key.PublicKey, goodResp, phoneSig); err != nil {
		t.Errorf("Verify(independent signature) error = %v", err)
	}
}

func TestVerifyRefuses(t *testing.T) {
	key := newKey(t)
	sig, err := push.Sign(key, goodResp)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), sig...)
	flipped[len(flipped)-1] ^= 1
	with := func(f func(*push.Response)) push.Response {
		r := goodResp
		f(&r)
		return r
	}
	tests := []struct {
		name string
		pub  *ecdsa.PublicKey
		resp push.Response
		sig  []byte
		want error
	}{
		{"ErrSignature/other key", &newKey(t).PublicKey, goodResp, sig, push.ErrSignature},
		{"ErrSignature/number", &key.PublicKey, with(func(r *push.Response) { r.Number = 24 }), sig, push.ErrSignature},
		{"ErrSignature/decision", &key.PublicKey, with(func(r *push.Response) { r.Decision = push.Deny }), sig, push.ErrSignature},
		{"ErrSignature/challenge", &key.PublicKey, with(func(r *push.Response) { r.ChallengeID = "other" }), sig, push.ErrSignature},
		{"ErrSignature/signed at", &key.PublicKey, with(func(r *push.Response) { r.SignedAt = r.SignedAt.Add(time.Second) }), sig, push.ErrSignature},
		{"ErrSignature/flipped bit", &key.PublicKey, goodResp, flipped, push.ErrSignature},
		{"ErrSignature/empty", &key.PublicKey, goodResp, nil, push.ErrSignature},
		{"ErrSignature/truncated", &key.PublicKey, goodResp, sig[:len(sig)-1], push.ErrSignature},
		{"ErrKey/nil", nil, goodResp, sig, push.ErrKey},
		{"ErrKey/P-384", &p384.PublicKey, goodResp, sig, push.ErrKey},
		{"ErrMalformed", &key.PublicKey, with(func(r *push.Response) { r.Decision = "yes" }), sig, push.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := push.Verify(tt.pub, tt.resp, tt.sig); !errors.Is(err, tt.want) {
				t.Errorf("Verify error = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := push.Sign(p384, goodResp); !errors.Is(err, push.ErrKey) {
		t.Errorf("Sign(P-384 key) error = %v, want ErrKey", err)
	}
	if _, err := push.Sign(nil, goodResp); !errors.Is(err, push.ErrKey) {
		t.Errorf("Sign(nil) error = %v, want ErrKey", err)
	}
}

func TestDecodeResponse(t *testing.T) {
	key := newKey(t)
	sig, err := push.Sign(key, goodResp)
	if err != nil {
		t.Fatal(err)
	}
	body, err := push.MarshalResponse(goodResp, sig)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`{"challenge_id":"Zm9vYmFyYmF6cXV4cXV1eA","decision":"approve","number":42,"signed_at":1748779230,"signature":"%s"}`,
		base64.StdEncoding.EncodeToString(sig))
	if string(body) != want {
		t.Errorf("MarshalResponse =\n%s\nwant\n%s", body, want)
	}
	resp, gotSig, err := push.DecodeResponse(body)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(goodResp, resp); diff != "" {
		t.Errorf("DecodeResponse (-want +got):\n%s", diff)
	}
	if err := push.Verify(&key.PublicKey, resp, gotSig); err != nil {
		t.Errorf("Verify(decoded) error = %v", err)
	}
	// White space and field order are free.
	loose := fmt.Sprintf(" {\n \"signature\" : %q, \"number\":42, \"signed_at\":1748779230, \"decision\":\"approve\", \"challenge_id\":\"Zm9vYmFyYmF6cXV4cXV1eA\"}\n",
		base64.StdEncoding.EncodeToString(sig))
	if resp, _, err := push.DecodeResponse([]byte(loose)); err != nil || resp != goodResp {
		t.Errorf("DecodeResponse(reordered) = %+v, %v", resp, err)
	}
}

func TestDecodeResponseRefuses(t *testing.T) {
	fields := func(edit func(m map[string]any)) string {
		m := map[string]any{
			"challenge_id": "Zm9vYmFyYmF6cXV4cXV1eA", "decision": "approve", "number": 42,
			"signed_at": 1748779230, "signature": "MEUCIQD3",
		}
		edit(m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	good := fields(func(map[string]any) {})
	if _, _, err := push.DecodeResponse([]byte(good)); err != nil {
		t.Fatalf("DecodeResponse(%s) error = %v; the refusals below start from it", good, err)
	}
	tests := []struct {
		name string
		body string
		want error
	}{
		{"ErrTooLarge", strings.Replace(good, "{", "{"+strings.Repeat(" ", push.MaxBodySize), 1), push.ErrTooLarge},
		{"empty", "", push.ErrMalformed},
		{"null", "null", push.ErrMalformed},
		{"array", "[]", push.ErrMalformed},
		{"unknown field", fields(func(m map[string]any) { m["device"] = "x" }), push.ErrMalformed},
		{"trailing object", good + "{}", push.ErrMalformed},
		{"duplicate key", strings.Replace(good, `{`, `{"decision":"deny",`, 1), push.ErrMalformed},
		{"case-variant key", strings.Replace(good, `"decision"`, `"Decision"`, 1), push.ErrMalformed},
		{"case-variant duplicate", strings.Replace(good, `{`, `{"DECISION":"deny",`, 1), push.ErrMalformed},
		{"trailing garbage", good + "x", push.ErrMalformed},
		{"truncated", good[:len(good)-1], push.ErrMalformed},
		{"number too big", fields(func(m map[string]any) { m["number"] = 100 }), push.ErrMalformed},
		{"number negative", fields(func(m map[string]any) { m["number"] = -1 }), push.ErrMalformed},
		{"number fractional", fields(func(m map[string]any) { m["number"] = 4.2 }), push.ErrMalformed},
		{"number as string", fields(func(m map[string]any) { m["number"] = "42" }), push.ErrMalformed},
		{"decision upper case", fields(func(m map[string]any) { m["decision"] = "APPROVE" }), push.ErrMalformed},
		{"decision unknown", fields(func(m map[string]any) { m["decision"] = "ok" }), push.ErrMalformed},
		{"challenge id with newline", fields(func(m map[string]any) { m["challenge_id"] = "a\nb" }), push.ErrMalformed},
		{"challenge id empty", fields(func(m map[string]any) { m["challenge_id"] = "" }), push.ErrMalformed},
		{"signed_at zero", fields(func(m map[string]any) { m["signed_at"] = 0 }), push.ErrMalformed},
		{"signed_at negative", fields(func(m map[string]any) { m["signed_at"] = -1 }), push.ErrMalformed},
		{"signed_at far future", fields(func(m map[string]any) { m["signed_at"] = int64(1) << 40 }), push.ErrMalformed},
		{"signed_at fractional", fields(func(m map[string]any) { m["signed_at"] = 1748779230.5 }), push.ErrMalformed},
		{"signed_at as string", fields(func(m map[string]any) { m["signed_at"] = "2025-06-01T12:00:30Z" }), push.ErrMalformed},
		{"signature not base64", fields(func(m map[string]any) { m["signature"] = "not base64!" }), push.ErrMalformed},
		{"signature URL alphabet", fields(func(m map[string]any) { m["signature"] = "MEUC-_D3" }), push.ErrMalformed},
		{"signature with newline", fields(func(m map[string]any) { m["signature"] = "MEUC\nIQD3" }), push.ErrMalformed},
		{"signature unpadded", fields(func(m map[string]any) { m["signature"] = "MEUCIQ" }), push.ErrMalformed},
		{"signature empty", fields(func(m map[string]any) { m["signature"] = "" }), push.ErrMalformed},
		{"signature too long", fields(func(m map[string]any) { m["signature"] = base64.StdEncoding.EncodeToString(make([]byte, 73)) }), push.ErrMalformed},
	}
	for _, field := range []string{"challenge_id", "decision", "number", "signed_at", "signature"} {
		tests = append(tests,
			struct {
				name string
				body string
				want error
			}{"missing " + field, fields(func(m map[string]any) { delete(m, field) }), push.ErrMalformed},
			struct {
				name string
				body string
				want error
			}{"null " + field, fields(func(m map[string]any) { m[field] = nil }), push.ErrMalformed},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, sig, err := push.DecodeResponse([]byte(tt.body))
			if !errors.Is(err, tt.want) {
				t.Errorf("DecodeResponse(%.80q) error = %v, want %v", tt.body, err, tt.want)
			}
			if resp != (push.Response{}) || sig != nil {
				t.Errorf("DecodeResponse returned %+v, %x with an error", resp, sig)
			}
		})
	}
}

func TestMarshalResponseRefuses(t *testing.T) {
	if _, err := push.MarshalResponse(push.Response{}, []byte{1}); !errors.Is(err, push.ErrMalformed) {
		t.Errorf("MarshalResponse(zero Response) error = %v, want ErrMalformed", err)
	}
	for _, sig := range [][]byte{nil, make([]byte, 73)} {
		if _, err := push.MarshalResponse(goodResp, sig); !errors.Is(err, push.ErrMalformed) {
			t.Errorf("MarshalResponse(%d-byte signature) error = %v, want ErrMalformed", len(sig), err)
		}
	}
}

func FuzzDecodeResponse(f *testing.F) {
	key := fixedKey(f)
	sig, err := push.Sign(key, goodResp)
	if err != nil {
		f.Fatal(err)
	}
	good, err := push.MarshalResponse(goodResp, sig)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"challenge_id":"a","decision":"deny","number":0,"signed_at":1,"signature":"AA=="}`))
	f.Add([]byte(`{"challenge_id":"a","decision":"report","number":99,"signed_at":253402300799,"signature":"AAAA"}`))
	f.Add([]byte(`{"Challenge_ID":"a","DECISION":"deny","number":0,"signed_at":1,"signature":"AA==","signature":"AQ=="}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"number":1e2}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, sig, err := push.DecodeResponse(body)
		if err != nil {
			if !errors.Is(err, push.ErrMalformed) && !errors.Is(err, push.ErrTooLarge) {
				t.Fatalf("DecodeResponse error = %v, want ErrMalformed or ErrTooLarge", err)
			}
			return
		}
		if len(body) > push.MaxBodySize {
			t.Fatalf("DecodeResponse accepted %d bytes", len(body))
		}
		// Whatever is accepted can be signed and re-encoded, and reads back the same.
		if _, err := push.Message(resp); err != nil {
			t.Fatalf("accepted %+v has no Message: %v", resp, err)
		}
		again, err := push.MarshalResponse(resp, sig)
		if err != nil {
			t.Fatalf("MarshalResponse(accepted %+v, %d-byte sig) error = %v", resp, len(sig), err)
		}
		resp2, sig2, err := push.DecodeResponse(again)
		if err != nil || resp2 != resp || string(sig2) != string(sig) {
			t.Fatalf("round trip: %+v %x %v, want %+v %x", resp2, sig2, err, resp, sig)
		}
		// And it verifies only if it is the genuine response.
		if push.Verify(&key.PublicKey, resp, sig) == nil && resp != goodResp {
			t.Fatalf("forged %+v verified", resp)
		}
	})
}
