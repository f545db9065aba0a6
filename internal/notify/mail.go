// Package notify is how gatehouse tells people: it turns audit events into
// outbox messages ([Notices]), and delivers them: mail through an SMTP
// relay ([MailSender], [SMTP]) and Standard Webhooks ([Webhooks]).
package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"mime/quotedprintable"
	"net"
	"net/netip"
	"net/smtp"
	"strings"
	"time"
)

// Mail is one e-mail message.
type Mail struct {
	To      string
	Subject string
	Body    string // plain text
	// HTML is the same content as HTML, sent beside Body as
	// multipart/alternative; "" sends Body alone.
	HTML string
	// ID is the outbox message id, sent as the Message-ID, so that a mail
	// delivered twice is recognisably one; "" for none.
	ID string
}

// Mailer sends mail.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// TLSMode says how [SMTP] protects the connection to its relay.
type TLSMode string

const (
	// TLSAuto is the zero value: [ImplicitTLS] on port 465, [StartTLS]
	// on any other port.
	TLSAuto TLSMode = ""
	// StartTLS upgrades the connection with the STARTTLS command and
	// refuses a relay that does not offer it (unless it is on loopback,
	// or [SMTP.InsecurePlaintext] is set).
	StartTLS TLSMode = "starttls"
	// ImplicitTLS speaks TLS from the first byte (SMTPS, RFC 8314).
	ImplicitTLS TLSMode = "implicit"
	// NoTLS never starts TLS: only for a loopback relay, or with
	// [SMTP.InsecurePlaintext].
	NoTLS TLSMode = "none"
)

// ParseTLSMode returns the mode named s: "", starttls, implicit, or none
// (also spelt none-loopback-only, which says what it allows).
func ParseTLSMode(s string) (TLSMode, error) {
	if s == "none-loopback-only" {
		return NoTLS, nil
	}
	switch m := TLSMode(s); m {
	case TLSAuto, StartTLS, ImplicitTLS, NoTLS:
		return m, nil
	}
	return "", fmt.Errorf("notify: TLS mode %q: want starttls, implicit or none-loopback-only", s)
}

// For returns the mode used with a relay on port: m itself, or for
// [TLSAuto] implicit TLS on 465 and STARTTLS elsewhere.
func (m TLSMode) For(port string) TLSMode {
	if m != TLSAuto {
		return m
	}
	if port == "465" {
		return ImplicitTLS
	}
	return StartTLS
}

// LoopbackHost reports whether host (of a relay, a listen address, a URL)
// names this machine: "localhost" or a loopback IP address. A name that
// merely resolves to loopback does not count: what it resolves to can
// change.
func LoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// SMTP sends mail through an SMTP relay over TLS: STARTTLS with the
// relay's certificate verified for its host name, or implicit TLS.
//
// Security invariant: a message (device approval links carry one-time
// tokens) and the relay password never cross the network in clear. The
// only plaintext sends are to a loopback relay (nothing leaves the
// machine) or with InsecurePlaintext set; the password is sent only over
// TLS, whatever the relay.
type SMTP struct {
	Addr     string // host:port; host is the name the certificate must carry
	From     string
	Username string
	Password string // a secret: never logged
	// TLS is how the connection is protected; the zero value is implicit
	// TLS on port 465 and required STARTTLS on any other.
	TLS TLSMode
	// RootCAs verifies the relay's certificate; nil means the system's
	// roots. Set it for a relay with a private CA.
	RootCAs *x509.CertPool
	// InsecurePlaintext allows sending in clear to a relay that is not on
	// loopback, when TLS is NoTLS or the relay offers no STARTTLS. Whoever
	// reads the path then reads every approval link. Never set it in
	// production.
	InsecurePlaintext bool
	Timeout           time.Duration // zero means 10s
	// Dial opens the TCP connection; nil means a [net.Dialer] with
	// Timeout. Tests point a host name at a local relay with it.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// ErrHeader is returned for a header value with a line break: it could
// inject headers or recipients.
var ErrHeader = errors.New("notify: line break in a header value")

// ErrPlaintext is returned, before anything is sent, when the message
// would cross the network in clear: the relay is not on loopback and
// offers no STARTTLS (or TLS is off), and InsecurePlaintext is not set.
var ErrPlaintext = errors.New("notify: refusing to send mail in clear to a relay that is not on loopback")

// ErrAuthPlaintext is returned, before the password is sent, when
// authentication would happen on a connection without TLS.
var ErrAuthPlaintext = errors.New("notify: refusing to send the SMTP password without TLS")

// tlsConfig is the client TLS configuration for the relay host.
func (s *SMTP) tlsConfig(host string) *tls.Config {
	return &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, RootCAs: s.RootCAs}
}

// dial connects to the relay, speaking TLS at once in implicit mode.
func (s *SMTP) dial(ctx context.Context, host string, mode TLSMode, timeout time.Duration) (net.Conn, error) {
	dial := s.Dial
	if dial == nil {
		d := &net.Dialer{Timeout: timeout}
		dial = d.DialContext
	}
	conn, err := dial(ctx, "tcp", s.Addr)
	if err != nil {
		return nil, fmt.Errorf("notify: smtp dial: %w", err)
	}
	conn.SetDeadline(time.Now().Add(timeout))
	if mode != ImplicitTLS {
		return conn, nil
	}
	tc := tls.Client(conn, s.tlsConfig(host))
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("notify: smtp tls: %w", err)
	}
	return tc, nil
}

// loopbackPeer reports whether conn's peer is a loopback address.
func loopbackPeer(conn net.Conn) bool {
	a, ok := conn.RemoteAddr().(*net.TCPAddr)
	return ok && a.IP.IsLoopback()
}

// Send implements [Mailer].
func (s *SMTP) Send(ctx context.Context, m Mail) error {
	for _, v := range []string{m.To, m.Subject, s.From, m.ID} {
		if strings.ContainsAny(v, "\r\n") {
			return ErrHeader
		}
	}
	host, port, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return fmt.Errorf("notify: smtp address %q: %w", s.Addr, err)
	}
	mode := s.TLS.For(port)
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	conn, err := s.dial(ctx, host, mode, timeout)
	if err != nil {
		return err
	}
	// Both the configured name and the connection must be local: a
	// "localhost" that some resolver points elsewhere is not.
	local := LoopbackHost(host) && loopbackPeer(conn)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("notify: smtp: %w", err)
	}
	defer c.Close()
	encrypted := mode == ImplicitTLS
	if mode == StartTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tlsConfig(host)); err != nil {
				return fmt.Errorf("notify: starttls: %w", err)
			}
			encrypted = true
		}
	}
	if !encrypted && !local && !s.InsecurePlaintext {
		return ErrPlaintext
	}
	if s.Username != "" {
		if !encrypted {
			return ErrAuthPlaintext
		}
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
			return fmt.Errorf("notify: smtp auth: %w", err)
		}
	}
	if err := c.Mail(s.From); err != nil {
		return fmt.Errorf("notify: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return fmt.Errorf("notify: RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("notify: DATA: %w", err)
	}
	msg := header(s.From, m) + body(m)
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("notify: send: %w", err)
	}
	return c.Quit()
}

// header is the message header of m from from, up to the content type.
func header(from string, m Mail) string {
	h := "From: " + from + "\r\nTo: " + m.To + "\r\nSubject: " + m.Subject +
		"\r\nDate: " + time.Now().UTC().Format(time.RFC1123Z) + "\r\nMIME-Version: 1.0\r\n"
	if m.ID != "" {
		domain := "gatehouse"
		if i := strings.LastIndexByte(from, '@'); i >= 0 {
			domain = strings.TrimRight(from[i+1:], "> ")
		}
		h += "Message-ID: <" + m.ID + "@" + domain + ">\r\n"
	}
	return h
}

// mimeBoundary separates the parts of a multipart mail. The parts are
// quoted-printable, whose lines never start with "--=_", so it cannot
// occur in them.
const mimeBoundary = "=_gatehouse_alternative"

// body is the content type and body of m: plain text as it is, or text
// and HTML as multipart/alternative, each part quoted-printable (so that
// no text a client chose, such as a device name, can end a part).
func body(m Mail) string {
	if m.HTML == "" {
		return "Content-Type: text/plain; charset=utf-8\r\n\r\n" + strings.ReplaceAll(m.Body, "\n", "\r\n")
	}
	return "Content-Type: multipart/alternative; boundary=\"" + mimeBoundary + "\"\r\n\r\n" +
		"--" + mimeBoundary + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qp(m.Body) + "\r\n" +
		"--" + mimeBoundary + "\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qp(m.HTML) + "\r\n" +
		"--" + mimeBoundary + "--\r\n"
}

// qp encodes s as quoted-printable with CRLF line ends.
func qp(s string) string {
	var b strings.Builder
	w := quotedprintable.NewWriter(&b)
	w.Write([]byte(strings.ReplaceAll(s, "\n", "\r\n")))
	w.Close()
	return b.String()
}

// LogMailer writes mail to the log instead of sending it. It is for demo
// mode only: device approval mails carry one-time links, and the point of
// the log mailer is to show them to the person trying gatehouse out.
type LogMailer struct {
	Log *slog.Logger
}

// Send implements [Mailer].
func (l LogMailer) Send(ctx context.Context, m Mail) error {
	l.Log.InfoContext(ctx, "demo mail (not sent)", "to", m.To, "subject", m.Subject, "body", m.Body)
	return nil
}
