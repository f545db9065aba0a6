package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"gatehouse/internal/notice"
	"gatehouse/internal/outbox"
	"gatehouse/internal/seal"
	"gatehouse/internal/store"
	"gatehouse/internal/user"
	"gatehouse/internal/webhook"
)

// MailSender delivers the outbox's mail messages through a [Mailer],
// rendering each when it is sent: the user's anti-phishing phrase is the
// one they have then, and the sealed link token is opened only on its way
// to the relay.
type MailSender struct {
	Mailer Mailer
	// Seal opens the sealed link tokens of the payloads.
	Seal *seal.Box
	// Origin is the public origin the links point to.
	Origin string
	// Users reads the recipient's username.
	Users interface {
		UserByID(ctx context.Context, id string) (*user.User, error)
	}
	// Phrase returns the user's anti-phishing phrase, "" for none; nil
	// means no user has one.
	Phrase func(ctx context.Context, userID string) (string, error)
}

// Send implements [outbox.Sender].
func (s *MailSender) Send(ctx context.Context, m *store.Message) error {
	var p mailPayload
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		return outbox.Permanent(fmt.Errorf("mail payload: %w", err))
	}
	mail, err := s.render(ctx, m, &p)
	if err != nil {
		return err
	}
	mail.To, mail.ID = m.Destination, m.ID
	return s.Mailer.Send(ctx, mail)
}

func (s *MailSender) render(ctx context.Context, m *store.Message, p *mailPayload) (Mail, error) {
	switch {
	case p.Kind == kindNotice && p.Notice != nil:
		r := notice.Recipient{}
		if s.Users != nil && m.UserID != "" {
			u, err := s.Users.UserByID(ctx, m.UserID)
			if errors.Is(err, store.ErrNotFound) {
				return Mail{}, outbox.Permanent(errors.New("the notice's user is gone"))
			}
			if err != nil {
				return Mail{}, fmt.Errorf("recipient: %w", err)
			}
			r.Username = u.Username
		}
		if s.Phrase != nil && m.UserID != "" {
			ph, err := s.Phrase(ctx, m.UserID)
			if err != nil {
				return Mail{}, fmt.Errorf("phrase: %w", err)
			}
			r.Phrase = ph
		}
		var link string
		if len(p.Freeze) > 0 {
			tok, err := s.open(p.Freeze, freezeAD(m.ID))
			if err != nil {
				return Mail{}, err
			}
			link = s.Origin + "/freeze?token=" + url.QueryEscape(tok)
		}
		var cancel string
		if len(p.Cancel) > 0 {
			tok, err := s.open(p.Cancel, cancelAD(m.ID))
			if err != nil {
				return Mail{}, err
			}
			cancel = s.Origin + "/recovery/cancel?token=" + url.QueryEscape(tok)
		}
		msg, err := notice.RenderLinks(*p.Notice, r, notice.Links{Freeze: link, Cancel: cancel})
		if err != nil {
			return Mail{}, outbox.Permanent(err)
		}
		return Mail{Subject: msg.Subject, Body: msg.Text, HTML: msg.HTML}, nil
	case p.Kind == kindApproval && p.Approval != nil:
		a := p.Approval
		tok, err := s.open(a.Token, approvalAD(m.ID))
		if err != nil {
			return Mail{}, err
		}
		link := s.Origin + "/devices/approve?token=" + url.QueryEscape(tok)
		body := "A sign-in to your gatehouse account is waiting for a new device to be approved:\n\n" +
			"  device: " + a.Device + "\n  door:   " + a.Interface + "\n  from:   " + a.IP + "\n  at:     " + a.Time.Format(time.RFC1123) + "\n\n" +
			"If this was you, open this link within 30 minutes to approve it:\n\n  " + link + "\n\n" +
			"If it was not you, do not open the link: someone knows your password and passed your second factor. Change your password now."
		return Mail{Subject: "Approve a new device for your gatehouse account", Body: body}, nil
	case p.Kind == kindReset && p.Approval != nil:
		a := p.Approval
		tok, err := s.open(a.Token, resetAD(m.ID))
		if err != nil {
			return Mail{}, err
		}
		link := s.Origin + "/recovery/password?token=" + url.QueryEscape(tok)
		body := "Someone asked to reset the password of your gatehouse account, from " + a.IP + " at " + a.Time.Format(time.RFC1123) + ".\n\n" +
			"If this was you, open this link within 30 minutes to choose a new password:\n\n  " + link + "\n\n" +
			"The link opens a page; nothing changes until you send a new password there. It does not sign you in: " +
			"you then sign in with the new password and your second factor, and every session ends.\n\n" +
			"If it was not you, do not open the link, and nothing changes."
		return Mail{Subject: "Reset the password of your gatehouse account", Body: body}, nil
	}
	return Mail{}, outbox.Permanent(fmt.Errorf("mail payload of kind %q", p.Kind))
}

// open opens a sealed link token. A value that does not open never will:
// the message is parked (the error names no secret).
func (s *MailSender) open(sealed, ad []byte) (string, error) {
	if s.Seal == nil {
		return "", outbox.Permanent(errors.New("no key to open the sealed link"))
	}
	b, err := s.Seal.Open(sealed, ad)
	if err != nil {
		return "", outbox.Permanent(errors.New("the sealed link does not open with the configured key"))
	}
	return string(b), nil
}

// Endpoint is a webhook receiver the operator configured.
type Endpoint struct {
	URL string
	// Secrets sign every message, one signature each: during a rotation
	// the receiver holds either.
	Secrets []webhook.Secret
	// Events are the event types it receives; "*" stands for every one.
	Events []string
}

// Wants reports whether the endpoint receives events of type e.
func (ep Endpoint) Wants(e notice.Event) bool {
	for _, w := range ep.Events {
		if w == "*" || w == string(e) {
			return true
		}
	}
	return false
}

// Webhooks delivers the outbox's webhook messages as Standard Webhooks
// requests: POST of the stored body, signed at each attempt (the
// timestamp is the attempt's, so receivers may refuse stale replays),
// with the message id as webhook-id.
type Webhooks struct {
	Endpoints []Endpoint
	// Client sends the requests; nil means a client that follows no
	// redirect. The attempt's context bounds each request.
	Client *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// Send implements [outbox.Sender]. Any answer but 2xx is a failure to
// retry; an endpoint no longer configured parks the message.
//
// Security: the error text is stored; it names the status or the kind
// of network failure, never the URL (which may hold a token) or the
// receiver's answer.
func (w *Webhooks) Send(ctx context.Context, m *store.Message) error {
	var ep *Endpoint
	for i := range w.Endpoints {
		if w.Endpoints[i].URL == m.Destination {
			ep = &w.Endpoints[i]
			break
		}
	}
	if ep == nil {
		return outbox.Permanent(errors.New("the endpoint is no longer configured"))
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	sig, err := webhook.Sign(m.ID, now(), m.Payload, ep.Secrets...)
	if err != nil {
		return outbox.Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(m.Payload))
	if err != nil {
		return outbox.Permanent(errors.New("the endpoint URL does not make a request"))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "gatehouse-webhook")
	req.Header.Set(webhook.HeaderID, sig.ID)
	req.Header.Set(webhook.HeaderTimestamp, sig.Timestamp)
	req.Header.Set(webhook.HeaderSignature, sig.Signature)
	c := w.Client
	if c == nil {
		c = noRedirects
	}
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return errors.New("webhook: no answer within the attempt's timeout")
		}
		return fmt.Errorf("webhook: %s", redact(err.Error(), ep.URL))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook: endpoint answered %d", resp.StatusCode)
	}
	return nil
}

// redact removes the endpoint's URL, and its query, from an error text.
func redact(s, rawURL string) string {
	s = strings.ReplaceAll(s, rawURL, "<endpoint>")
	if u, err := url.Parse(rawURL); err == nil && u.RawQuery != "" {
		s = strings.ReplaceAll(s, u.RawQuery, "…")
	}
	return s
}
