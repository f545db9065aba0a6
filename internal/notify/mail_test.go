package notify_test

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"gatehouse/internal/notify"
	"gatehouse/internal/notify/notifytest"
)

// to dials relay whatever address the client asks for, so that a test
// can name the relay by a host name that is not loopback and that its
// certificate carries, without any traffic leaving the machine.
func to(relay *notifytest.Relay) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, relay.Addr)
	}
}

var approval = notify.Mail{To: "alice@example.com", Subject: "Approve your new device", Body: "Open this link:\nhttps://x/devices/approve?token=secret"}

// received returns the one message the relay accepted, failing if none.
func received(t *testing.T, relay *notifytest.Relay) notifytest.Message {
	t.Helper()
	select {
	case m := <-relay.Messages:
		return m
	default:
		t.Fatalf("relay received no message; commands %v", relay.Commands())
		return notifytest.Message{}
	}
}

func TestSMTPSendsOverVerifiedTLS(t *testing.T) {
	ca := notifytest.NewCA(t)
	for _, tc := range []struct {
		name     string
		implicit bool
		port     string
		mode     notify.TLSMode
	}{
		{"STARTTLS", false, "587", notify.TLSAuto},
		{"STARTTLSExplicit", false, "25", notify.StartTLS},
		{"ImplicitOn465", true, "465", notify.TLSAuto},
		{"ImplicitExplicit", true, "2465", notify.ImplicitTLS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			relay := notifytest.Start(t, notifytest.Options{TLS: ca.Server(t, "relay.example.com"), Implicit: tc.implicit, Auth: true})
			s := &notify.SMTP{Addr: "relay.example.com:" + tc.port, From: "gatehouse@example.com", TLS: tc.mode, RootCAs: ca.Pool(), Dial: to(relay),
				Username: "gatehouse", Password: "relay-password"}
			if err := s.Send(context.Background(), approval); err != nil {
				t.Fatalf("Send = %v", err)
			}
			m := received(t, relay)
			if !m.TLS {
				t.Error("message arrived over a session without TLS")
			}
			if got, want := m.To, []string{"alice@example.com"}; !slices.Equal(got, want) {
				t.Errorf("recipients = %v, want %v", got, want)
			}
			for _, want := range []string{"Subject: Approve your new device", "Open this link:\nhttps://x/devices/approve?token=secret"} {
				if !strings.Contains(m.Data, want) {
					t.Errorf("message lacks %q:\n%s", want, m.Data)
				}
			}
			if m.Username != "gatehouse" || m.Password != "relay-password" {
				t.Errorf("relay saw credentials %q/%q, want gatehouse/relay-password", m.Username, m.Password)
			}
			for _, c := range relay.Commands() {
				if !strings.HasSuffix(c, " TLS") {
					t.Errorf("command %q came in clear; commands %v", c, relay.Commands())
				}
			}
		})
	}
}

// A relay whose certificate does not verify — issued for another host,
// by a CA the client does not trust, or over a TLS version below 1.2 —
// gets neither the password nor the message.
func TestSMTPRefusesUnverifiedRelay(t *testing.T) {
	ca := notifytest.NewCA(t)
	old := func(c *tls.Config) *tls.Config {
		c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
		return c
	}
	for _, tc := range []struct {
		name     string
		implicit bool
		port     string
		cert     *tls.Config
		trusted  bool
	}{
		{"STARTTLSWrongHost", false, "587", ca.Server(t, "mail.example.net"), true},
		{"STARTTLSUnknownCA", false, "587", ca.Server(t, "relay.example.com"), false},
		{"STARTTLSBelow12", false, "587", old(ca.Server(t, "relay.example.com")), true},
		{"ImplicitWrongHost", true, "465", ca.Server(t, "mail.example.net"), true},
		{"ImplicitUnknownCA", true, "465", ca.Server(t, "relay.example.com"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			relay := notifytest.Start(t, notifytest.Options{TLS: tc.cert, Implicit: tc.implicit, Auth: true})
			s := &notify.SMTP{Addr: "relay.example.com:" + tc.port, From: "gatehouse@example.com", Dial: to(relay), Username: "gatehouse", Password: "relay-password"}
			if tc.trusted {
				s.RootCAs = ca.Pool()
			}
			if err := s.Send(context.Background(), approval); err == nil {
				t.Fatal("Send = nil, want a TLS verification error")
			}
			if got := relay.Commands(); len(got) != 0 {
				t.Errorf("relay received %v, want nothing", got)
			}
		})
	}
}

// A relay that is not on loopback and offers no STARTTLS is refused
// before MAIL FROM: the approval token would cross the network in clear.
func TestSMTPRefusesPlaintextToRemoteRelay(t *testing.T) {
	for _, mode := range []notify.TLSMode{notify.TLSAuto, notify.StartTLS, notify.NoTLS} {
		t.Run(cmp.Or(string(mode), "auto"), func(t *testing.T) {
			relay := notifytest.Start(t, notifytest.Options{})
			s := &notify.SMTP{Addr: "relay.example.com:587", From: "gatehouse@example.com", TLS: mode, Dial: to(relay)}
			if err := s.Send(context.Background(), approval); !errors.Is(err, notify.ErrPlaintext) {
				t.Errorf("Send = %v, want ErrPlaintext", err)
			}
			if got := relay.Commands(); len(got) != 0 {
				t.Errorf("relay received %v, want nothing (no MAIL, no DATA)", got)
			}
		})
	}
}

func TestSMTPInsecurePlaintextSendsInClear(t *testing.T) {
	relay := notifytest.Start(t, notifytest.Options{})
	s := &notify.SMTP{Addr: "relay.example.com:25", From: "gatehouse@example.com", Dial: to(relay), InsecurePlaintext: true}
	if err := s.Send(context.Background(), approval); err != nil {
		t.Fatalf("Send = %v", err)
	}
	if m := received(t, relay); m.TLS {
		t.Error("message arrived over TLS from a relay without TLS")
	}
}

// A loopback relay may answer in clear: the message never leaves the
// machine.
func TestSMTPSendsInClearToLoopbackRelay(t *testing.T) {
	for _, mode := range []notify.TLSMode{notify.TLSAuto, notify.NoTLS} {
		t.Run(cmp.Or(string(mode), "auto"), func(t *testing.T) {
			relay := notifytest.Start(t, notifytest.Options{})
			s := &notify.SMTP{Addr: relay.Addr, From: "gatehouse@example.com", TLS: mode}
			if err := s.Send(context.Background(), approval); err != nil {
				t.Fatalf("Send = %v", err)
			}
			m := received(t, relay)
			if got, want := m.From, "gatehouse@example.com"; got != want {
				t.Errorf("MAIL FROM = %q, want %q", got, want)
			}
		})
	}
}

// A name that is not "localhost" is not loopback, even when it leads
// to a loopback address: what it resolves to can change.
func TestSMTPLoopbackMeansTheConfiguredHost(t *testing.T) {
	for host, want := range map[string]bool{"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.8.9.1": true, "::1": true,
		"relay.example.com": false, "10.0.0.1": false, "localhost.example.com": false, "::ffff:127.0.0.1": true} {
		if got := notify.LoopbackHost(host); got != want {
			t.Errorf("LoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

// The relay password goes only over TLS, even to a loopback relay.
func TestSMTPAuthOnlyOverTLS(t *testing.T) {
	relay := notifytest.Start(t, notifytest.Options{Auth: true})
	s := &notify.SMTP{Addr: relay.Addr, From: "gatehouse@example.com", Username: "gatehouse", Password: "relay-password"}
	if err := s.Send(context.Background(), approval); !errors.Is(err, notify.ErrAuthPlaintext) {
		t.Errorf("Send = %v, want ErrAuthPlaintext", err)
	}
	if got := relay.Commands(); len(got) != 0 {
		t.Errorf("relay received %v, want nothing", got)
	}
}

func TestParseTLSMode(t *testing.T) {
	for _, s := range []string{"", "starttls", "implicit", "none"} {
		if _, err := notify.ParseTLSMode(s); err != nil {
			t.Errorf("ParseTLSMode(%q) = %v", s, err)
		}
	}
	if m, err := notify.ParseTLSMode("none-loopback-only"); m != notify.NoTLS || err != nil {
		t.Errorf("ParseTLSMode(none-loopback-only) = %q, %v; want %q", m, err, notify.NoTLS)
	}
	for _, s := range []string{"tls", "STARTTLS", "off", "ssl"} {
		if _, err := notify.ParseTLSMode(s); err == nil {
			t.Errorf("ParseTLSMode(%q) = nil error", s)
		}
	}
}

func TestSMTPRefusesHeaderInjection(t *testing.T) {
	m := &notify.SMTP{Addr: "127.0.0.1:1", From: "gatehouse@example.com"}
	err := m.Send(context.Background(), notify.Mail{To: "alice@example.com\r\nBcc: mallory@example.com", Subject: "x"})
	if !errors.Is(err, notify.ErrHeader) {
		t.Errorf("Send with CRLF in To = %v, want ErrHeader", err)
	}
}
