// Package notify sends what gatehouse tells people: e-mail today; signed
// webhooks and phone pushes go through the same place later.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/smtp"
	"strings"
	"time"
)

// Mail is one e-mail message.
type Mail struct {
	To      string
	Subject string
	Body    string // plain text
}

// Mailer sends mail.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// SMTP sends mail through an SMTP server, with STARTTLS whenever the
// server offers it. Credentials are sent only over TLS or to localhost
// (net/smtp refuses otherwise).
type SMTP struct {
	Addr     string // host:port
	From     string
	Username string
	Password string
	Timeout  time.Duration // zero means 10s
}

// ErrHeader is returned for a header value with a line break: it could
// inject headers or recipients.
var ErrHeader = errors.New("notify: line break in a header value")

// Send implements [Mailer].
func (s *SMTP) Send(ctx context.Context, m Mail) error {
	for _, v := range []string{m.To, m.Subject, s.From} {
		if strings.ContainsAny(v, "\r\n") {
			return ErrHeader
		}
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("notify: smtp dial: %w", err)
	}
	conn.SetDeadline(time.Now().Add(timeout))
	host, _, _ := net.SplitHostPort(s.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("notify: smtp: %w", err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(nil); err != nil {
			return fmt.Errorf("notify: starttls: %w", err)
		}
	}
	if s.Username != "" {
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
	msg := "From: " + s.From + "\r\nTo: " + m.To + "\r\nSubject: " + m.Subject +
		"\r\nDate: " + time.Now().UTC().Format(time.RFC1123Z) + "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		strings.ReplaceAll(m.Body, "\n", "\r\n")
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("notify: send: %w", err)
	}
	return c.Quit()
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
