package push_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/factor/push"
	"gatehouse/internal/token"
)

func TestPublicKeyRoundTrip(t *testing.T) {
	key := newKey(t)
	s, err := push.MarshalPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if want := base64.StdEncoding.EncodeToString(der); s != want {
		t.Errorf("MarshalPublicKey = %q, want %q", s, want)
	}
	pub, err := push.ParsePublicKey(s)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(&key.PublicKey) {
		t.Error("ParsePublicKey(MarshalPublicKey(k)) is another key")
	}
}

func TestPublicKeyRefuses(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	p384DER, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	edDER, _ := x509.MarshalPKIXPublicKey(edPub)
	goodDER, _ := x509.MarshalPKIXPublicKey(&newKey(t).PublicKey)
	std := base64.StdEncoding.EncodeToString

	if _, err := push.MarshalPublicKey(&p384.PublicKey); !errors.Is(err, push.ErrKey) {
		t.Errorf("MarshalPublicKey(P-384) error = %v, want ErrKey", err)
	}
	if _, err := push.MarshalPublicKey(nil); !errors.Is(err, push.ErrKey) {
		t.Errorf("MarshalPublicKey(nil) error = %v, want ErrKey", err)
	}
	tests := map[string]string{
		"empty":          "",
		"not base64":     "not base64!",
		"P-384":          std(p384DER),
		"Ed25519":        std(edDER),
		"trailing data":  std(append(append([]byte(nil), goodDER...), 0)),
		"truncated":      std(goodDER[:len(goodDER)-1]),
		"URL alphabet":   base64.RawURLEncoding.EncodeToString(goodDER),
		"raw EC point":   std(goodDER[len(goodDER)-65:]),
		"too long":       strings.Repeat("A", 260),
		"line wrapped":   std(goodDER)[:60] + "\n" + std(goodDER)[60:],
		"surrounding ws": " " + std(goodDER),
	}
	for name, s := range tests {
		if _, err := push.ParsePublicKey(s); !errors.Is(err, push.ErrKey) {
			t.Errorf("ParsePublicKey(%s) error = %v, want ErrKey", name, err)
		}
	}
}

func TestEnrolment(t *testing.T) {
	e, code, err := push.NewEnrolment(bytes.NewReader(bytes.Repeat([]byte{0xff}, 16)), "u-1", now)
	if err != nil {
		t.Fatal(err)
	}
	if want := "_____________________w"; code != want {
		t.Errorf("code = %q, want %q", code, want)
	}
	if e.UserID != "u-1" || !bytes.Equal(e.CodeHash, token.Hash(code)) || !e.ExpiresAt.Equal(now.Add(push.EnrolmentLifetime)) || e.Used {
		t.Errorf("NewEnrolment = %+v", e)
	}
	if _, _, err := push.NewEnrolment(nil, "", now); !errors.Is(err, push.ErrUser) {
		t.Errorf("NewEnrolment(no user) error = %v, want ErrUser", err)
	}
	if _, _, err := push.NewEnrolment(bytes.NewReader(nil), "u-1", now); err == nil {
		t.Error("NewEnrolment(empty reader) succeeded, want error")
	}
}

func TestRedeem(t *testing.T) {
	fresh := func(t *testing.T) (push.Enrolment, string) {
		e, code, err := push.NewEnrolment(nil, "u-1", now)
		if err != nil {
			t.Fatal(err)
		}
		return e, code
	}
	t.Run("OK then ErrCodeUsed", func(t *testing.T) {
		e, code := fresh(t)
		if err := e.Redeem(code, now.Add(time.Minute)); err != nil {
			t.Fatalf("Redeem error = %v", err)
		}
		if !e.Used {
			t.Error("Used not set after Redeem")
		}
		if err := e.Redeem(code, now.Add(time.Minute)); !errors.Is(err, push.ErrCodeUsed) {
			t.Errorf("second Redeem error = %v, want ErrCodeUsed", err)
		}
	})
	t.Run("ErrCode", func(t *testing.T) {
		e, code := fresh(t)
		if err := e.Redeem(code+"x", now); !errors.Is(err, push.ErrCode) {
			t.Errorf("Redeem(wrong code) error = %v, want ErrCode", err)
		}
		if e.Used {
			t.Error("Used set by a wrong code")
		}
	})
	t.Run("ErrCodeExpired", func(t *testing.T) {
		e, code := fresh(t)
		if err := e.Redeem(code, now.Add(push.EnrolmentLifetime)); !errors.Is(err, push.ErrCodeExpired) {
			t.Errorf("Redeem(at expiry) error = %v, want ErrCodeExpired", err)
		}
	})
}

func TestRegistration(t *testing.T) {
	key := newKey(t)
	body, err := push.MarshalRegistration(key, "abc-DEF_123", "Alice’s iPhone 15")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := push.DecodeRegistration(body)
	if err != nil {
		t.Fatal(err)
	}
	if reg.Code != "abc-DEF_123" || reg.DeviceName != "Alice’s iPhone 15" || !reg.PublicKey.Equal(&key.PublicKey) {
		t.Errorf("DecodeRegistration = %+v", reg)
	}
}

func TestRegistrationRefuses(t *testing.T) {
	key := newKey(t)
	body, err := push.MarshalRegistration(key, "abc", "Phone")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m map[string]any)) []byte {
		c := map[string]any{}
		for k, v := range m {
			c[k] = v
		}
		f(c)
		b, _ := json.Marshal(c)
		return b
	}
	otherPub, _ := push.MarshalPublicKey(&newKey(t).PublicKey)
	tests := []struct {
		name string
		body []byte
		want error
	}{
		{"ErrSignature/key swapped", edit(func(m map[string]any) { m["public_key"] = otherPub }), push.ErrSignature},
		{"ErrSignature/code changed", edit(func(m map[string]any) { m["code"] = "abd" }), push.ErrSignature},
		{"ErrSignature/name changed", edit(func(m map[string]any) { m["device_name"] = "Phone 2" }), push.ErrSignature},
		{"ErrKey", edit(func(m map[string]any) { m["public_key"] = "AAAA" }), push.ErrKey},
		{"ErrKey/not base64 text", edit(func(m map[string]any) { m["public_key"] = "AA\nAA" }), push.ErrKey},
		{"ErrDeviceName/empty", edit(func(m map[string]any) { m["device_name"] = "" }), push.ErrDeviceName},
		{"ErrDeviceName/newline", edit(func(m map[string]any) { m["device_name"] = "a\ncode=x" }), push.ErrDeviceName},
		{"ErrDeviceName/bidi override", edit(func(m map[string]any) { m["device_name"] = "evil\u202ephone" }), push.ErrDeviceName},
		{"ErrDeviceName/too long", edit(func(m map[string]any) { m["device_name"] = strings.Repeat("é", 65) }), push.ErrDeviceName},
		{"ErrMalformed/code", edit(func(m map[string]any) { m["code"] = "a b" }), push.ErrMalformed},
		{"ErrMalformed/unknown field", edit(func(m map[string]any) { m["extra"] = 1 }), push.ErrMalformed},
		{"ErrMalformed/missing signature", edit(func(m map[string]any) { delete(m, "signature") }), push.ErrMalformed},
		{"ErrMalformed/signature not base64", edit(func(m map[string]any) { m["signature"] = "!!" }), push.ErrMalformed},
		{"ErrMalformed/signature too long", edit(func(m map[string]any) { m["signature"] = base64.StdEncoding.EncodeToString(make([]byte, 80)) }), push.ErrMalformed},
		{"ErrMalformed/trailing", append(body, '1'), push.ErrMalformed},
		{"ErrTooLarge", append(body, bytes.Repeat([]byte(" "), push.MaxBodySize)...), push.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if reg, err := push.DecodeRegistration(tt.body); !errors.Is(err, tt.want) {
				t.Errorf("DecodeRegistration error = %v (%+v), want %v", err, reg, tt.want)
			}
		})
	}
	if _, err := push.MarshalRegistration(nil, "abc", "Phone"); !errors.Is(err, push.ErrKey) {
		t.Errorf("MarshalRegistration(nil key) error = %v, want ErrKey", err)
	}
	if _, err := push.MarshalRegistration(key, "abc", ""); !errors.Is(err, push.ErrDeviceName) {
		t.Errorf("MarshalRegistration(no name) error = %v, want ErrDeviceName", err)
	}
}

func FuzzDecodeRegistration(f *testing.F) {
	key := fixedKey(f)
	good, err := push.MarshalRegistration(key, "abc", "Phone")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"code":"a","public_key":"AAAA","device_name":"x","signature":"AA=="}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		reg, err := push.DecodeRegistration(body)
		if err != nil {
			return
		}
		// Anything accepted carries a P-256 key that signed it; with random
		// input that can only be the genuine registration.
		if !reg.PublicKey.Equal(&key.PublicKey) || reg.Code != "abc" || reg.DeviceName != "Phone" {
			t.Fatalf("DecodeRegistration accepted %+v", reg)
		}
	})
}

func FuzzParsePublicKey(f *testing.F) {
	s, err := push.MarshalPublicKey(&newKey(f).PublicKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(s)
	f.Add("")
	f.Add("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE")
	f.Fuzz(func(t *testing.T, s string) {
		pub, err := push.ParsePublicKey(s)
		if err != nil {
			return
		}
		// Accepted keys are P-256 and re-encode to the same text.
		again, err := push.MarshalPublicKey(pub)
		if err != nil || again != s {
			t.Fatalf("ParsePublicKey(%q) then MarshalPublicKey = %q, %v", s, again, err)
		}
	})
}
