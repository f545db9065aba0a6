package cli

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/internal/authn"
	"gatehouse/internal/authz"
	"gatehouse/internal/store"
	"gatehouse/internal/store/postgres"
)

// cacheStats exports the look-ups of the session and key caches, answered
// from the cache or read from the store: the hit rate says how much of
// forward-auth's traffic the store sees.
type cacheStats struct {
	sessions *authn.Sessions
	keys     *authz.Keys
}

var cacheLookupsDesc = prometheus.NewDesc("gatehouse_cache_lookups_total",
	"Credential look-ups by cache (sessions, keys) and result (hit: answered from the cache; miss: read from the store).", []string{"cache", "result"}, nil)

func (c cacheStats) Describe(ch chan<- *prometheus.Desc) { ch <- cacheLookupsDesc }

func (c cacheStats) Collect(ch chan<- prometheus.Metric) {
	for _, x := range []struct {
		name string
		of   func() (uint64, uint64)
	}{{"sessions", c.sessions.Lookups}, {"keys", c.keys.Lookups}} {
		hits, misses := x.of()
		ch <- prometheus.MustNewConstMetric(cacheLookupsDesc, prometheus.CounterValue, float64(hits), x.name, "hit")
		ch <- prometheus.MustNewConstMetric(cacheLookupsDesc, prometheus.CounterValue, float64(misses), x.name, "miss")
	}
}

// notifyEvery is how often an instance on PostgreSQL probes its
// revocation notifications.
const notifyEvery = 5 * time.Second

// notifyProbe measures, on PostgreSQL, how long a revocation's NOTIFY
// takes to reach this instance: every notifyEvery it sends a probe on the
// revocation channel and times its return to the listener. It exports the
// distribution and the time since one last came back, which grows when
// the listener is stuck or disconnected (then the cache age is the only
// bound on a revocation made elsewhere).
type notifyProbe struct {
	db   *postgres.DB
	lags prometheus.Histogram
}

var notifySilenceDesc = prometheus.NewDesc("gatehouse_revocation_notify_silence_seconds",
	"Seconds since this instance's last notification probe came back; grows while revocations from other instances cannot reach it.", nil, nil)

// newNotifyProbe returns the probe of st's backend, registered with reg,
// or nil when the backend sends no notifications (SQLite).
func newNotifyProbe(st store.Store, reg *prometheus.Registry) *notifyProbe {
	for {
		if db, ok := st.(*postgres.DB); ok {
			p := &notifyProbe{db: db, lags: prometheus.NewHistogram(prometheus.HistogramOpts{
				Name:    "gatehouse_revocation_notify_seconds",
				Help:    "Time from a notification probe's NOTIFY to its arrival on this instance's listener: what a revocation committed by another instance waits before this one forgets its cached copy.",
				Buckets: []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
			})}
			db.OnProbe(func(d time.Duration) { p.lags.Observe(d.Seconds()) })
			reg.MustRegister(p.lags, p)
			return p
		}
		u, ok := st.(interface{ Unwrap() store.Store })
		if !ok {
			return nil
		}
		st = u.Unwrap()
	}
}

func (p *notifyProbe) Describe(ch chan<- *prometheus.Desc) { ch <- notifySilenceDesc }

func (p *notifyProbe) Collect(ch chan<- prometheus.Metric) {
	at, _ := p.db.ProbeSeen()
	silence := 0.0
	if !at.IsZero() {
		silence = time.Since(at).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(notifySilenceDesc, prometheus.GaugeValue, silence)
}

// Run probes every notifyEvery until ctx ends.
func (p *notifyProbe) Run(ctx context.Context, log *slog.Logger) {
	probe := func() {
		if err := p.db.Probe(ctx); err != nil && ctx.Err() == nil {
			log.Warn("notification probe", "err", err)
		}
	}
	probe()
	each(ctx, notifyEvery, probe)
}
