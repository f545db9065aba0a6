package main

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestReadResponse reads, off one keep-alive connection to a net/http
// server, an empty 200 and a 403 with a body, each to its end, so that
// the next response starts where it should.
func TestReadResponse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/refuse" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"type":"urn:gatehouse:problem:approval-required"}`))
		}
	}))
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	for _, want := range []struct {
		path string
		code int
	}{{"/", 200}, {"/refuse", 403}, {"/", 200}} {
		if _, err := c.Write([]byte("GET " + want.path + " HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		code, err := readResponse(r)
		if err != nil || code != want.code {
			t.Fatalf("GET %s: %d, %v; want %d", want.path, code, err, want.code)
		}
	}
	if _, err := readResponse(bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))); err == nil {
		t.Errorf("a chunked response was read as if it had ended")
	}
	if _, err := readResponse(bufio.NewReader(strings.NewReader("garbage\r\n"))); err == nil {
		t.Errorf("a bad status line was read")
	}
}
