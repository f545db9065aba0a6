// Package sms is the SMS one-time-code factor: a [Sender] that delivers a
// message, single-use [Challenge]s holding the hash of a 6-digit code, and
// phone-number checks and masking.
//
// SMS is the weakest second factor gatehouse offers (NIST SP 800-63B calls it
// restricted: SIM swap and interception defeat it); policy may forbid it and
// the posture report always flags it.
//
// The Twilio sender lives in the sub-package twilio, so that this package
// stays free of network code.
package sms

import (
	"context"
	"log/slog"
)

// Sender delivers a text message to a phone number in E.164 form.
// Implementations must never log the body: it holds a code. (LogSender is
// the one exception, for development.)
type Sender interface {
	Send(ctx context.Context, to, body string) error
}

// LogSender is a [Sender] for development and demo mode: it sends nothing and
// logs the message instead, body and code included, at Info level. Logging
// the code is its whole purpose: it shows the code to the developer, who has
// no phone on the other end. Never use it in production.
type LogSender struct {
	// Logger receives the messages; nil means slog.Default().
	Logger *slog.Logger
}

// Send logs the message and returns nil, unless ctx is already done.
func (s LogSender) Send(ctx context.Context, to, body string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l := s.Logger
	if l == nil {
		l = slog.Default()
	}
	l.InfoContext(ctx, "sms not sent (demo mode): showing the message to the developer", "to", to, "body", body)
	return nil
}
