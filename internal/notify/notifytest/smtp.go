// Package notifytest runs a real SMTP server (github.com/emersion/go-smtp)
// on loopback for tests, in clear, with STARTTLS or with implicit TLS,
// and records what gatehouse tells it; [NewCA] makes the certificates.
package notifytest

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options configure a [Relay].
type Options struct {
	// TLS is the server's TLS configuration; nil serves in clear and
	// offers no STARTTLS.
	TLS *tls.Config
	// Implicit speaks TLS from the first byte (SMTPS) instead of
	// offering STARTTLS. It needs TLS.
	Implicit bool
	// Auth offers AUTH PLAIN (over TLS only), accepts any credentials,
	// recording them, and refuses MAIL FROM before it.
	Auth bool
	// Addr is where to listen; "" means a free port on 127.0.0.1. A test
	// of a relay that comes back up gives the address it had.
	Addr string
}

// Message is one message the relay accepted.
type Message struct {
	From string
	To   []string
	Data string // the message as sent, line endings as \n
	// TLS reports whether the session was encrypted when DATA came.
	TLS bool
	// Username and Password are what the client authenticated with.
	Username, Password string
}

// Relay is a running SMTP server. It stops when its test ends.
type Relay struct {
	// Addr is 127.0.0.1:port.
	Addr string
	// Messages delivers each accepted message (buffered; a full buffer
	// drops).
	Messages <-chan Message

	mu       sync.Mutex
	commands []string
}

// Commands returns the commands the relay has received so far that
// matter to a test: AUTH, MAIL, RCPT and DATA, in order, each with
// " TLS" when it came over an encrypted session.
func (r *Relay) Commands() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.commands...)
}

func (r *Relay) record(cmd string, c *smtp.Conn) {
	if _, ok := c.TLSConnectionState(); ok {
		cmd += " TLS"
	}
	r.mu.Lock()
	r.commands = append(r.commands, cmd)
	r.mu.Unlock()
}

// Start starts a relay on loopback.
func Start(t testing.TB, o Options) *Relay {
	t.Helper()
	if o.Implicit && o.TLS == nil {
		t.Fatal("notifytest: Implicit needs TLS")
	}
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan Message, 1024)
	r := &Relay{Addr: l.Addr().String(), Messages: ch}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{relay: r, conn: c, ch: ch, auth: o.Auth}, nil
	}))
	srv.Domain = "relay.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are what some tests are about
	if o.Implicit {
		l = tls.NewListener(l, o.TLS)
	} else {
		srv.TLSConfig = o.TLS // non-nil: STARTTLS is offered
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(l) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return r
}

// SMTPSink starts a relay in clear on loopback and delivers each
// message's envelope and data as one string ("MAIL FROM:<a>\nRCPT
// TO:<b>\n" then the data).
func SMTPSink(t testing.TB) (addr string, messages <-chan string) {
	r := Start(t, Options{})
	return r.Addr, Text(r.Messages)
}

// Text turns messages into strings as [SMTPSink] delivers them.
func Text(messages <-chan Message) <-chan string {
	out := make(chan string, 1024)
	go func() {
		for m := range messages {
			var b strings.Builder
			b.WriteString("MAIL FROM:<" + m.From + ">\n")
			for _, to := range m.To {
				b.WriteString("RCPT TO:<" + to + ">\n")
			}
			b.WriteString(m.Data)
			out <- b.String()
		}
	}()
	return out
}

type session struct {
	relay  *Relay
	conn   *smtp.Conn
	ch     chan<- Message
	auth   bool // AUTH offered and required
	authed bool
	msg    Message
}

func (s *session) AuthMechanisms() []string {
	if !s.auth {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	if !s.auth || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnsupported
	}
	s.relay.record("AUTH", s.conn)
	return sasl.NewPlainServer(func(identity, username, password string) error {
		s.msg.Username, s.msg.Password = username, password
		s.authed = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.relay.record("MAIL", s.conn)
	if s.auth && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.msg.From = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.relay.record("RCPT", s.conn)
	s.msg.To = append(s.msg.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	s.relay.record("DATA", s.conn)
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := s.msg
	m.Data = strings.ReplaceAll(string(b), "\r\n", "\n")
	_, m.TLS = s.conn.TLSConnectionState()
	select {
	case s.ch <- m:
	default:
		return errors.New("notifytest: message buffer full")
	}
	s.msg.From, s.msg.To = "", nil
	return nil
}

func (s *session) Reset() { s.msg.From, s.msg.To = "", nil }

func (s *session) Logout() error { return nil }
