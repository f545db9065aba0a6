package cli

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/internal/config"
	"gatehouse/internal/notice"
	"gatehouse/internal/notify"
	"gatehouse/internal/outbox"
	"gatehouse/internal/seal"
	"gatehouse/internal/store"
)

// noticeDeriver returns the deriver that writes each audit event's
// notices into the outbox: mail when mail can be sent, webhooks to the
// configured endpoints. Every verb's store has it, so a change made from
// the command line is told like one made through the server.
//
// Mails carry a freeze link sealed with the seed key; without a key that
// every process shares (none configured; demo mode on PostgreSQL, where
// each process draws its own) they carry none, and tell where the Freeze
// button is instead.
func noticeDeriver(c *config.Config) (*notify.Notices, error) {
	eps, err := endpoints(c)
	if err != nil {
		return nil, err
	}
	var box *seal.Box
	if c.Factors.SeedKey != "" || (c.Demo && c.DatabaseURL == "") {
		key, err := seedKey(c, slog.New(slog.DiscardHandler))
		if err != nil {
			return nil, fmt.Errorf("factors.seed_key: %w", err)
		}
		if box, err = seal.New(key); err != nil {
			return nil, fmt.Errorf("factors.seed_key: %w", err)
		}
	}
	return &notify.Notices{Seal: box, Mail: c.Mail.Addr != "" || c.Demo, SignIns: c.Mail.NotifySignIns, Webhooks: eps,
		FreezeLifetime: c.Outbox.FreezeLinkLifetime, Limit: c.Outbox.Limit(), Preferences: preferences}, nil
}

// preferences reads a user's choice of channels in the event's transaction.
func preferences(ctx context.Context, tx store.Tx, userID string) (notice.Preferences, error) {
	s, err := tx.NoticeSettingsOf(ctx, userID)
	if err != nil {
		return nil, err
	}
	return s.Preferences, nil
}

// endpoints returns the configured webhook endpoints.
func endpoints(c *config.Config) ([]notify.Endpoint, error) {
	var eps []notify.Endpoint
	for i, w := range c.Webhooks {
		secrets, err := w.Secrets()
		if err != nil {
			return nil, fmt.Errorf("webhooks[%d].secret: %w", i, err)
		}
		eps = append(eps, notify.Endpoint{URL: w.URL, Secrets: secrets, Events: w.Events})
	}
	return eps, nil
}

// outboxWorker returns the worker that delivers the outbox: mail through
// mailer (nil: mail messages wait, and are parked), webhooks to the
// configured endpoints. box opens the sealed link tokens of mails.
func outboxWorker(c *config.Config, st store.Store, box *seal.Box, mailer notify.Mailer, log *slog.Logger) (*outbox.Worker, error) {
	eps, err := endpoints(c)
	if err != nil {
		return nil, err
	}
	senders := map[string]outbox.Sender{store.ChannelWebhook: &notify.Webhooks{Endpoints: eps}}
	if mailer != nil {
		senders[store.ChannelMail] = &notify.MailSender{Mailer: mailer, Seal: box, Origin: c.PublicOrigin, Users: st,
			Phrase: func(ctx context.Context, userID string) (string, error) {
				s, err := st.NoticeSettingsOf(ctx, userID)
				if err != nil {
					return "", err
				}
				return s.Phrase, nil
			}}
	}
	o := c.Outbox
	return &outbox.Worker{Store: st, Senders: senders, Retry: outbox.Retry{Base: o.RetryBase, Cap: o.RetryCap, MaxAttempts: o.MaxAttempts},
		Timeout: o.AttemptTimeout, Log: log}, nil
}

// outboxStats exports the outbox's pending and parked messages and the
// age of the oldest pending one, counted in the store at scrape time: a
// growing age means deliveries are stuck.
type outboxStats struct{ st store.Outbox }

var (
	outboxPendingDesc = prometheus.NewDesc("gatehouse_outbox_pending", "Outbox messages waiting to be delivered.", nil, nil)
	outboxFailedDesc  = prometheus.NewDesc("gatehouse_outbox_failed", "Outbox messages parked as failed after too many attempts (gatehouse outbox list --failed).", nil, nil)
	outboxAgeDesc     = prometheus.NewDesc("gatehouse_outbox_oldest_pending_age_seconds", "Age of the oldest pending outbox message; 0 when none is pending.", nil, nil)
)

func (o outboxStats) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxPendingDesc
	ch <- outboxFailedDesc
	ch <- outboxAgeDesc
}

func (o outboxStats) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := o.st.OutboxStats(ctx)
	if err != nil {
		for _, d := range []*prometheus.Desc{outboxPendingDesc, outboxFailedDesc, outboxAgeDesc} {
			ch <- prometheus.NewInvalidMetric(d, err)
		}
		return
	}
	age := 0.0
	if !s.OldestPending.IsZero() {
		age = max(0, time.Since(s.OldestPending).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(outboxPendingDesc, prometheus.GaugeValue, float64(s.Pending))
	ch <- prometheus.MustNewConstMetric(outboxFailedDesc, prometheus.GaugeValue, float64(s.Failed))
	ch <- prometheus.MustNewConstMetric(outboxAgeDesc, prometheus.GaugeValue, age)
}
