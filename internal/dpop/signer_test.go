package dpop_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"strings"
	"testing"

	"gatehouse/internal/dpop"
)

func TestNewSigner(t *testing.T) {
	if _, err := dpop.NewSigner(nil); !errors.Is(err, dpop.ErrInvalidKey) {
		t.Errorf("NewSigner(nil) = %v, want %v", err, dpop.ErrInvalidKey)
	}
	if _, err := dpop.NewSigner(newKey(t, elliptic.P384())); !errors.Is(err, dpop.ErrInvalidKey) {
		t.Errorf("NewSigner(P-384) = %v, want %v", err, dpop.ErrInvalidKey)
	}
}

func TestSignerProof(t *testing.T) {
	s := newSigner(t)

	t.Run("JTIFromRand", func(t *testing.T) {
		s := *s
		s.Rand = bytes.NewReader(bytes.Repeat([]byte{0xff}, 16))
		p, err := dpop.ParseProof(mustProof(t, &s, "GET", testURL, "", t0))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := p.ID, "_____________________w"; got != want {
			t.Errorf("jti = %q, want %q", got, want)
		}
	})

	t.Run("RandFails", func(t *testing.T) {
		s := *s
		s.Rand = bytes.NewReader(make([]byte, 15)) // one byte short
		if _, err := s.Proof("GET", testURL, "", t0); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("Proof with short Rand = %v, want %v", err, io.ErrUnexpectedEOF)
		}
	})

	for _, tt := range []struct{ name, method, url string }{
		{"EmptyMethod", "", testURL},
		{"BadMethod", "GE T", testURL},
		{"RelativeURL", "GET", "/v1/me"},
		{"FTPURL", "GET", "ftp://api.example.com/"},
		{"NoURL", "GET", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if p, err := s.Proof(tt.method, tt.url, "", t0); err == nil {
				t.Errorf("Proof(%q, %q) = %q, want an error", tt.method, tt.url, p)
			}
		})
	}
}

func TestKeyPEM(t *testing.T) {
	k := newKey(t, elliptic.P256())
	pemBytes, err := dpop.MarshalKey(k)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pemBytes, []byte("-----BEGIN PRIVATE KEY-----\n")) {
		t.Errorf("MarshalKey wrote %.28q…, want a PKCS #8 PEM block", pemBytes)
	}
	got, err := dpop.ParseKey(pemBytes)
	if err != nil {
		t.Fatalf("ParseKey(MarshalKey(k)) = %v", err)
	}
	if !got.Equal(k) {
		t.Error("ParseKey(MarshalKey(k)) is not k")
	}
	// The restored key signs proofs with the same thumbprint.
	a, _ := dpop.NewSigner(k)
	b, _ := dpop.NewSigner(got)
	if a.JKT() != b.JKT() {
		t.Errorf("restored key JKT %q, want %q", b.JKT(), a.JKT())
	}

	t.Run("SEC1", func(t *testing.T) {
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dpop.ParseKey(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
		if err != nil || !got.Equal(k) {
			t.Errorf("ParseKey(SEC 1) = %v, want k", err)
		}
	})

	p384 := newKey(t, elliptic.P384())
	p384DER, _ := x509.MarshalPKCS8PrivateKey(p384)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	pkixDER, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"Empty", nil},
		{"NotPEM", []byte("hello")},
		{"P384", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p384DER})},
		{"RSA", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaDER})},
		{"PublicKey", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkixDER})},
		{"Encrypted", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: der})},
		{"BadDER", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der[:len(der)-3]})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := dpop.ParseKey(tt.data); !errors.Is(err, dpop.ErrInvalidKey) {
				t.Errorf("ParseKey = %v, want %v", err, dpop.ErrInvalidKey)
			}
		})
	}

	if _, err := dpop.MarshalKey(p384); !errors.Is(err, dpop.ErrInvalidKey) {
		t.Errorf("MarshalKey(P-384) = %v, want %v", err, dpop.ErrInvalidKey)
	}
}

func TestKeyErrorsHideKey(t *testing.T) {
	// ParseKey's errors may be shown to a user or logged: they must not
	// echo key material.
	k := newKey(t, elliptic.P256())
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	bad := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der[:len(der)-3]})
	_, err := dpop.ParseKey(bad)
	if err == nil {
		t.Fatal("ParseKey(truncated) = nil")
	}
	d := mustBytes(k.Bytes())
	if strings.Contains(err.Error(), b64.EncodeToString(d)) || bytes.Contains([]byte(err.Error()), d) {
		t.Errorf("ParseKey error %q contains the private scalar", err)
	}
}

func TestGenerateKey(t *testing.T) {
	k, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if k.Curve != elliptic.P256() {
		t.Errorf("GenerateKey curve = %s, want P-256", k.Curve.Params().Name)
	}
	var _ *ecdsa.PrivateKey = k
}

func BenchmarkSignerProof(b *testing.B) {
	s := newSigner(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Proof("GET", testURL, testToken, t0); err != nil {
			b.Fatal(err)
		}
	}
}
