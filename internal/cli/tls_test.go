package cli_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate for localhost and its key into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTLSAndSecureCookies serves TLS from certificate files; with an https
// origin the session cookie is Secure and carries the __Host- prefix.
func TestTLSAndSecureCookies(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	saved := healthClient
	healthClient = client
	t.Cleanup(func() { healthClient = saved })

	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := strings.TrimPrefix(l.Addr().String(), "127.0.0.1:")
	l.Close()
	env := map[string]string{"GATEHOUSE_TLS_CERT": certFile, "GATEHOUSE_TLS_KEY": keyFile, "GATEHOUSE_PUBLIC_ORIGIN": "https://localhost:" + port}
	s := startServerOn(t, "127.0.0.1:"+port, []string{"--data", t.TempDir()}, env)
	s.addUser(t, "tess", "a long passphrase for tls")

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: tr, Jar: jar, Timeout: 10 * time.Second}
	resp := call(t, c, "POST", s.URL+"/v1/login", map[string]any{"username": "tess", "password": "a long passphrase for tls", "interface": "web"}, nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("login over TLS = %d %s", resp.StatusCode, body(resp))
	}
	if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("not served over TLS 1.2+: %+v", resp.TLS)
	}
	var found bool
	for _, ck := range resp.Cookies() {
		if strings.Contains(ck.Name, "session") {
			found = true
			if ck.Name != "__Host-gatehouse_session" || !ck.Secure || !ck.HttpOnly || ck.Path != "/" || ck.Domain != "" {
				t.Errorf("session cookie over https = %+v; want __Host-gatehouse_session, Secure, HttpOnly, Path=/, no Domain", ck)
			}
		}
	}
	if !found {
		t.Error("no session cookie")
	}
	if resp := call(t, c, "GET", s.URL+"/v1/me", nil, nil, nil); resp.StatusCode != 200 {
		t.Errorf("GET /v1/me with the secure cookie = %d", resp.StatusCode)
	}
	// Plain HTTP to the TLS port is not served.
	if r, err := http.Get("http://127.0.0.1:" + port + "/healthz"); err == nil && r.StatusCode == 200 {
		t.Error("plain HTTP answered on the TLS listener")
	}
}
