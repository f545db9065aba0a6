package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/factor"
	"gatehouse/internal/notice"
	"gatehouse/internal/seal"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// DefaultFreezeLinkLifetime is how long the "This wasn't me" link of a
// notice works: long enough for a holder back from a week away.
const DefaultFreezeLinkLifetime = 7 * 24 * time.Hour

// Notices turns audit events into the outbox messages of their notices
// ([notice.FromAudit]): one mail to the user's address, one message per
// webhook endpoint that wants the event, on the channels the user's
// preferences (or the catalogue's defaults) give the event. It is meant
// to be given to the store wrapper that calls it in the transaction of
// every audit event, so a notice is written with the change it tells of,
// or not at all.
//
// Security: each notice mail carries a fresh single-use freeze link. Only
// the token's hash is stored as a link; the token itself is in the mail's
// payload sealed with Seal, bound to the message id, so nothing in the
// database opens the link without the key.
type Notices struct {
	// Seal seals the freeze link token in a mail's payload.
	Seal *seal.Box
	// Mail says that mail can be sent (a relay, or the demo log): without
	// it no mail message is written.
	Mail bool
	// SignIns sends session.created by mail (mail.notify_sign_ins); the
	// other channels carry it regardless.
	SignIns bool
	// Webhooks are the operator's endpoints; each gets the events it wants.
	Webhooks []Endpoint
	// Preferences returns the user's choice of channels per event, read in
	// the event's transaction; nil means every user has the catalogue's
	// defaults.
	Preferences func(ctx context.Context, tx store.Tx, userID string) (notice.Preferences, error)
	// Limit is the per-user rate rule of the notices to the holder
	// (mail); the zero Limit means [notice.DefaultLimit]. Webhooks go to
	// the platform, not the holder, and carry every notice.
	Limit notice.Limit
	// FreezeLifetime bounds a freeze link; 0 means DefaultFreezeLinkLifetime.
	FreezeLifetime time.Duration
	// Rand makes ids and link tokens; nil means crypto/rand.Reader.
	Rand io.Reader
}

// Payload kinds of a mail message.
const (
	kindNotice   = "notice"
	kindApproval = "device_approval"
	kindReset    = "password_reset"
)

// mailPayload is the payload of a mail or push message. It holds no secret in
// clear: a link token is sealed, bound to the message id.
type mailPayload struct {
	Kind   string         `json:"kind"`
	Notice *notice.Notice `json:"notice,omitempty"`
	// Freeze is the sealed token of the notice's freeze link.
	Freeze []byte `json:"freeze,omitempty"`
	// Cancel is the sealed token of a recovery notice's cancel link.
	Cancel []byte `json:"cancel,omitempty"`
	// Approval is a device approval link's mail.
	Approval *approval `json:"approval,omitempty"`
}

// approval is what the device approval mail says, and its sealed link token.
type approval struct {
	Device    string    `json:"device"`
	Interface string    `json:"interface"`
	IP        string    `json:"ip"`
	Time      time.Time `json:"time"`
	Token     []byte    `json:"token"`
}

// Associated data of sealed link tokens: a token sealed for one message
// does not open in another.
func freezeAD(messageID string) []byte { return []byte("gatehouse freeze link\x00" + messageID) }
func cancelAD(messageID string) []byte {
	return []byte("gatehouse recovery cancel link\x00" + messageID)
}
func approvalAD(messageID string) []byte {
	return []byte("gatehouse device approval link\x00" + messageID)
}
func resetAD(messageID string) []byte {
	return []byte("gatehouse password reset link\x00" + messageID)
}

// NewMessageID returns a fresh outbox message id.
func NewMessageID(r io.Reader) (string, error) {
	id, err := token.New(r, 12)
	if err != nil {
		return "", err
	}
	return "msg_" + id, nil
}

// Derive returns the outbox messages of e's notice, none when e is not
// told. It runs in e's transaction (tx), where it also stores the freeze
// link of a mail.
func (n *Notices) Derive(ctx context.Context, tx store.Tx, e *audit.Event) ([]*store.Message, error) {
	nt, ok := notice.FromAudit(e)
	if !ok {
		return nil, nil
	}
	var prefs notice.Preferences
	if n.Preferences != nil {
		p, err := n.Preferences(ctx, tx, e.UserID)
		if err != nil {
			return nil, fmt.Errorf("notify: preferences of %s: %w", e.UserID, err)
		}
		prefs = p
	}
	channels := prefs.Channels(nt.Event)
	id, err := token.New(n.Rand, 12)
	if err != nil {
		return nil, err
	}
	nt.ID = "ntc_" + id
	now := e.Time
	var out []*store.Message
	var to string
	var phones []string
	var rate *store.NoticeRate
	wantMail := slices.Contains(channels, notice.Mail) && n.Mail && (nt.Event != notice.SessionCreated || n.SignIns)
	if wantPush := slices.Contains(channels, notice.Push); wantMail || wantPush {
		// The user, their phones and their notice rate in one read.
		u, fs, r, err := tx.NoticeFacts(ctx, nt.UserID)
		if err != nil {
			return nil, fmt.Errorf("notify: facts of a notice to %s: %w", nt.UserID, err)
		}
		if wantMail {
			if u == nil {
				return nil, fmt.Errorf("notify: user of a notice: %w", store.ErrNotFound)
			}
			// The address is the one the user had when the change was made:
			// an intruder who changes it afterwards does not divert this
			// notice.
			to = u.Email
		}
		if wantPush {
			phones = usablePhones(fs)
		}
		rate = r
	}
	if to != "" || len(phones) > 0 {
		ok, summary, err := n.admit(ctx, tx, &nt, to, phones, rate)
		if err != nil {
			return nil, err
		}
		if summary != nil {
			out = append(out, summary)
		}
		if ok {
			if to != "" {
				m, err := n.noticeMail(ctx, tx, &nt, to, now)
				if err != nil {
					return nil, err
				}
				out = append(out, m)
			}
			for _, ph := range phones {
				m, err := n.noticePush(&nt, ph, now)
				if err != nil {
					return nil, err
				}
				out = append(out, m)
			}
		}
	}
	if slices.Contains(channels, notice.Webhook) {
		var body []byte
		for _, ep := range n.Webhooks {
			if !ep.Wants(nt.Event) {
				continue
			}
			if body == nil {
				if body, err = WebhookBody(&nt); err != nil {
					return nil, err
				}
			}
			mid, err := NewMessageID(n.Rand)
			if err != nil {
				return nil, err
			}
			out = append(out, &store.Message{ID: mid, Channel: store.ChannelWebhook, Event: string(nt.Event), UserID: nt.UserID,
				Destination: ep.URL, Payload: body, CreatedAt: now})
		}
	}
	return out, nil
}

// admit applies the per-user limit to nt's messages to the holder (mail
// to the address to, pushes to phones), in nt's transaction (which holds
// the user's count until it ends). It reports whether they are sent; when
// they are held back instead, nt is counted in the window's summary: a
// new summary message, returned to be enqueued, due when the window ends,
// or the one already waiting, rewritten. r is the user's place under the
// limit, read (and held) with the notice's other facts.
func (n *Notices) admit(ctx context.Context, tx store.Tx, nt *notice.Notice, to string, phones []string, r *store.NoticeRate) (bool, *store.Message, error) {
	var err error
	next := &store.NoticeRate{Summary: r.Summary}
	if n.Limit.Ended(r.State, nt.Time) {
		next.Summary = "" // that window's summary, if any, is on its way
	}
	var ok bool
	next.State, ok = n.Limit.Admit(r.State, nt.Event, nt.Time)
	var created *store.Message
	if !ok {
		if created, err = n.summarize(ctx, tx, next, nt.UserID, to, phones, nt.Time); err != nil {
			return false, nil, err
		}
		if created != nil {
			next.Summary = created.ID
		}
	}
	if err := tx.SetNoticeRate(ctx, nt.UserID, next); err != nil {
		return false, nil, fmt.Errorf("notify: notice rate of %s: %w", nt.UserID, err)
	}
	return ok, created, nil
}

// summarize makes r's summary tell r's held counts: it rewrites the
// summary mail waiting unsent, or returns a new one when none waits (the
// first notice held in the window, or the waiting one already taken by
// a worker or a phone). The summary is a notice of its own, made at now
// (when the first notice it counts was held), due at the end of the
// window: a mail with its own freeze link, or for a holder with no
// address, a push to their first phone.
func (n *Notices) summarize(ctx context.Context, tx store.Tx, r *store.NoticeRate, userID, to string, phones []string, now time.Time) (*store.Message, error) {
	counts := make(map[string]string, len(r.State.Held))
	for e, c := range r.State.Held {
		counts[string(e)] = strconv.Itoa(c)
	}
	if r.Summary != "" {
		m, err := tx.MessageByID(ctx, r.Summary)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		var p mailPayload
		if err == nil && m.State == store.MessagePending && m.Attempts == 0 && json.Unmarshal(m.Payload, &p) == nil && p.Notice != nil {
			p.Notice.Detail = counts
			body, err := json.Marshal(p)
			if err != nil {
				return nil, err
			}
			switch err := tx.RewriteUnsent(ctx, m.ID, body); {
			case err == nil:
				return nil, nil
			case !errors.Is(err, store.ErrNotFound):
				return nil, err
			}
		}
	}
	id, err := token.New(n.Rand, 12)
	if err != nil {
		return nil, err
	}
	sum := notice.Notice{ID: "ntc_" + id, Event: notice.Summary, UserID: userID, Time: now, Detail: counts}
	var m *store.Message
	if to != "" {
		m, err = n.noticeMail(ctx, tx, &sum, to, now)
	} else {
		m, err = n.noticePush(&sum, phones[0], now)
	}
	if err != nil {
		return nil, err
	}
	m.NextAttemptAt = n.Limit.SummaryDue(r.State)
	return m, nil
}

// usablePhones returns the factor ids of the usable phones among fs.
func usablePhones(fs []*factor.Factor) []string {
	var out []string
	for _, f := range fs {
		if f.Kind == factor.Push && f.Usable() {
			out = append(out, f.ID)
		}
	}
	return out
}

// noticePush is the push message of nt to the phone with factor id
// phone. It waits in the outbox until the phone fetches it and says it
// has it (see [store.Outbox]); it holds no secret and no link: the phone
// answers "This wasn't me" with its own key.
func (n *Notices) noticePush(nt *notice.Notice, phone string, now time.Time) (*store.Message, error) {
	mid, err := NewMessageID(n.Rand)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(mailPayload{Kind: kindNotice, Notice: nt})
	if err != nil {
		return nil, err
	}
	return &store.Message{ID: mid, Channel: store.ChannelPush, Event: string(nt.Event), UserID: nt.UserID,
		Destination: phone, Payload: body, CreatedAt: now}, nil
}

// DecodeNotice returns the notice a mail or push message of a notice
// carries; false for any other payload.
func DecodeNotice(payload []byte) (*notice.Notice, bool) {
	var p mailPayload
	if json.Unmarshal(payload, &p) != nil || p.Kind != kindNotice || p.Notice == nil {
		return nil, false
	}
	return p.Notice, true
}

// noticeMail is the mail message of nt to the address to, with its
// freeze link stored.
func (n *Notices) noticeMail(ctx context.Context, tx store.Tx, nt *notice.Notice, to string, now time.Time) (*store.Message, error) {
	mid, err := NewMessageID(n.Rand)
	if err != nil {
		return nil, err
	}
	p := mailPayload{Kind: kindNotice, Notice: nt}
	if n.Seal != nil {
		life := n.FreezeLifetime
		if life <= 0 {
			life = DefaultFreezeLinkLifetime
		}
		tok, err := NewFreezeLink(ctx, tx, n.Rand, nt.UserID, now.Add(life))
		if err != nil {
			return nil, err
		}
		if p.Freeze, err = n.Seal.Seal([]byte(tok), freezeAD(mid)); err != nil {
			return nil, err
		}
		if nt.Event == notice.RecoveryRequested || nt.Event == notice.RecoveryReminder || nt.Event == notice.RecoveryShortened {
			// One click cancels the user's pending recovery, and nothing else.
			tok, err := NewLink(ctx, tx, n.Rand, nt.UserID, store.LinkRecoveryCancel, now.Add(life))
			if err != nil {
				return nil, err
			}
			if p.Cancel, err = n.Seal.Seal([]byte(tok), cancelAD(mid)); err != nil {
				return nil, err
			}
		}
	}
	body, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return &store.Message{ID: mid, Channel: store.ChannelMail, Event: string(nt.Event), UserID: nt.UserID,
		Destination: to, Payload: body, CreatedAt: now}, nil
}

// Approval is a device approval link to mail.
type Approval struct {
	UserID, To string
	// Device, Interface, IP are the waiting device's name, door and
	// address, as the mail shows them.
	Device, Interface, IP string
	Time                  time.Time
	// Token is the link's token; only its hash is stored as the link.
	Token string
}

// ApprovalMessage returns the outbox message that mails a device
// approval link, for the transaction that stores the link. The token is
// sealed with box, bound to the message id.
func ApprovalMessage(box *seal.Box, r io.Reader, a Approval) (*store.Message, error) {
	return linkMessage(box, r, kindApproval, "device.approval_link", approvalAD, a)
}

// ResetMessage returns the outbox message that mails a password reset
// link (a.Device unused), for the transaction that stores the link; the
// token is sealed as an approval link's is.
func ResetMessage(box *seal.Box, r io.Reader, a Approval) (*store.Message, error) {
	return linkMessage(box, r, kindReset, "password.reset_link", resetAD, a)
}

func linkMessage(box *seal.Box, r io.Reader, kind, event string, ad func(string) []byte, a Approval) (*store.Message, error) {
	if box == nil {
		return nil, fmt.Errorf("notify: %s mail: no seal box", kind)
	}
	mid, err := NewMessageID(r)
	if err != nil {
		return nil, err
	}
	sealed, err := box.Seal([]byte(a.Token), ad(mid))
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(mailPayload{Kind: kind, Approval: &approval{Device: a.Device, Interface: a.Interface, IP: a.IP, Time: a.Time, Token: sealed}})
	if err != nil {
		return nil, err
	}
	return &store.Message{ID: mid, Channel: store.ChannelMail, Event: event, UserID: a.UserID,
		Destination: a.To, Payload: body, CreatedAt: a.Time}, nil
}

// webhookBody is the JSON body of a notice's webhook, in the Standard
// Webhooks shape: type, timestamp and data.
type webhookBody struct {
	Type      notice.Event `json:"type"`
	Timestamp time.Time    `json:"timestamp"`
	Data      webhookData  `json:"data"`
}

type webhookData struct {
	Notice    string            `json:"notice"`
	User      string            `json:"user"`
	Interface string            `json:"interface,omitempty"`
	Device    string            `json:"device,omitempty"`
	IP        string            `json:"ip,omitempty"`
	Critical  bool              `json:"critical"`
	Detail    map[string]string `json:"detail,omitempty"`
}

// WebhookBody returns the body every endpoint receives for nt. It holds
// no secret and no link: the freeze link is the holder's, in their mail.
func WebhookBody(nt *notice.Notice) ([]byte, error) {
	return json.Marshal(webhookBody{Type: nt.Event, Timestamp: nt.Time.UTC(), Data: webhookData{
		Notice: nt.ID, User: nt.UserID, Interface: nt.Interface, Device: nt.Device, IP: nt.IP, Critical: notice.Critical(nt.Event), Detail: nt.Detail}})
}

// NewFreezeLink stores a single-use "This wasn't me" link for userID in
// tx (the transaction of the notice that carries it), working until
// expires, and returns its token: 256 bits, shown only in the link
// (<origin>/freeze?token=<token>), stored as its hash.
func NewFreezeLink(ctx context.Context, tx store.FreezeLinks, r io.Reader, userID string, expires time.Time) (string, error) {
	return NewLink(ctx, tx, r, userID, store.LinkFreeze, expires)
}

// NewLink is the one maker of a notice's single-use links: it stores a
// link for userID that serves purpose only ([store.LinkFreeze],
// [store.LinkRecoveryCancel]) in tx, working until expires, and returns
// its token (256 bits, stored as its hash).
func NewLink(ctx context.Context, tx store.FreezeLinks, r io.Reader, userID, purpose string, expires time.Time) (string, error) {
	tok, err := token.New(r, 32)
	if err != nil {
		return "", err
	}
	if err := tx.CreateLink(ctx, token.Hash(tok), userID, purpose, expires); err != nil {
		return "", fmt.Errorf("notify: %s link: %w", purpose, err)
	}
	return tok, nil
}
