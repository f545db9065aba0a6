package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	jose "github.com/go-jose/go-jose/v4"

	"gatehouse/internal/account"
	"gatehouse/internal/authn"
	"gatehouse/internal/authz"
	"gatehouse/internal/config"
	"gatehouse/internal/cooldown"
	"gatehouse/internal/dpop"
	"gatehouse/internal/edge"
	"gatehouse/internal/extauthz"
	"gatehouse/internal/httpapi"
	"gatehouse/internal/login"
	"gatehouse/internal/notify"
	"gatehouse/internal/password"
	"gatehouse/internal/playbook"
	"gatehouse/internal/posturegate"
	"gatehouse/internal/server"
	"gatehouse/internal/session"
	"gatehouse/internal/signal"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
	"gatehouse/internal/user"
	"gatehouse/internal/web"
)

func init() {
	verbs["serve"] = verb{summary: "run the gatehouse server", run: runServe}
}

func runServe(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "serve", "serve [--config FILE] [--data DIR] [--database-url URL] [--addr HOST:PORT] [--demo] [--pprof HOST:PORT]")
	var sf storeFlags
	sf.register(fs)
	addr := fs.String("addr", "", "listen `address` (default 127.0.0.1:8080)")
	demo := fs.Bool("demo", false, "seed a demo user and accounts (never in production)")
	pprofAddr := fs.String("pprof", "", "serve Go's profiles (net/http/pprof) on this loopback `address`, for an operator finding where time goes; off by default")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := sf.load(e)
	if err != nil {
		return err
	}
	if *addr != "" {
		c.Listen = *addr
	}
	if *demo {
		c.Demo = true
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("%w\n(see 'gatehouse config example' for every setting)", err)
	}
	log := newLogger(e.stderr, c)
	defer setMemoryLimit(c, e.getenv, log)()
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()

	hasher := &password.Hasher{Params: c.Password.Argon2id}
	if c.Demo {
		if err := seedDemo(ctx, e, st, hasher, log); err != nil {
			return fmt.Errorf("demo seed: %w", err)
		}
	}
	l, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server there? use --addr)", c.Listen, err)
	}
	var ml net.Listener
	if c.Metrics.Listen != "" {
		if ml, err = net.Listen("tcp", c.Metrics.Listen); err != nil {
			l.Close()
			return fmt.Errorf("listen on %s: %w (is another server there? see metrics.listen)", c.Metrics.Listen, err)
		}
	}
	var pl net.Listener
	if *pprofAddr != "" {
		if pl, err = listenPprof(*pprofAddr); err != nil {
			l.Close()
			if ml != nil {
				ml.Close()
			}
			return err
		}
	}
	var gl net.Listener
	if c.Authz.GRPCListen != "" {
		if gl, err = net.Listen("tcp", c.Authz.GRPCListen); err != nil {
			l.Close()
			for _, x := range []net.Listener{ml, pl} {
				if x != nil {
					x.Close()
				}
			}
			return fmt.Errorf("listen on %s: %w (is another server there? see authz.grpc_listen)", c.Authz.GRPCListen, err)
		}
	}
	reg := prometheus.NewRegistry()
	h, sessions, err := buildServer(c, st, hasher, reg, log)
	if err != nil {
		for _, x := range []net.Listener{l, ml, gl, pl} {
			if x != nil {
				x.Close()
			}
		}
		return err
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); sessions.Run(bg, time.Second) }()
	defer func() { stopBG(); <-done }()

	log.Info("gatehouse serving", "addr", l.Addr().String(), "origin", c.PublicOrigin, "store", storeName(c), "demo", c.Demo)
	fmt.Fprintf(e.stdout, "gatehouse listening on %s\n", l.Addr())
	// Every listener, one lifetime: when one stops, all do.
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	var others []chan error
	run := func(serve func() error) {
		errc := make(chan error, 1)
		others = append(others, errc)
		go func() { defer stop(); errc <- serve() }()
	}
	if ml != nil {
		log.Info("metrics serving", "addr", ml.Addr().String())
		run(func() error { return server.Serve(sctx, ml, server.Metrics(reg), "", "", log) })
	}
	if pl != nil {
		log.Info("pprof serving", "addr", pl.Addr().String())
		run(func() error { return server.ServePprof(sctx, pl, log) })
	}
	if gl != nil {
		log.Info("ext_authz gRPC serving", "addr", gl.Addr().String())
		run(func() error { return extauthz.Serve(sctx, gl, extauthz.NewServer(sessions.extAuthz)) })
	}
	err = server.Serve(sctx, l, h, c.TLS.Cert, c.TLS.Key, log)
	stop()
	for _, errc := range others {
		err = errors.Join(err, <-errc)
	}
	return err
}

// listenPprof listens for --pprof, on loopback only: profiles show the
// process's memory and code paths, and are nobody's business off the
// machine (an operator reaches them with ssh -L).
func listenPprof(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof %s: %w (give HOST:PORT, e.g. 127.0.0.1:6060)", addr, err)
	}
	if !notify.LoopbackHost(host) {
		return nil, fmt.Errorf("--pprof %s: not a loopback address (use 127.0.0.1:PORT or [::1]:PORT)", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w (is another server there? see --pprof)", addr, err)
	}
	return l, nil
}

func storeName(c *config.Config) string {
	if c.DatabaseURL != "" {
		return "postgres"
	}
	return "sqlite:" + c.Data
}

// buildServer wires the flows and transports over an open store.
// It registers the metrics with reg, which /metrics serves: on the
// handler it returns, or apart when metrics.listen is set.
func buildServer(c *config.Config, st store.Store, hasher *password.Hasher, reg *prometheus.Registry, log *slog.Logger) (http.Handler, *loops, error) {
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), activeSessions{st}, outboxStats{st})
	metrics := httpapi.NewMetrics(reg)
	now := time.Now
	sessions := authn.New(st, c.CacheMaxAge, now, log)
	keys := newKeys(c, st, now, log)
	reg.MustRegister(cacheStats{sessions, keys})
	// The command line revokes on the same store from another process:
	// the watcher makes that take effect on the next request.
	watch := authn.NewWatcher(st, 0, sessions, keys.Forget, log)
	// One credential path for the API and the portal; forward-auth has
	// its own, with its own replay cache.
	auth := &authn.Authenticator{Sessions: sessions, Replay: &dpop.ReplayCache{Window: c.DPoP.MaxAge}, Shared: sharedOnce(c, st), MaxAge: c.DPoP.MaxAge, Watch: watch, Now: now}
	cookies := edge.Cookies{Secure: c.Secure()}
	factors, mailer, err := buildFactors(c, log)
	if err != nil {
		return nil, nil, err
	}
	worker, err := outboxWorker(c, st, factors.Seal, mailer, log)
	if err != nil {
		return nil, nil, err
	}
	svc := &login.Service{Store: st, Hasher: hasher, Rules: c.Password.Rules, Throttle: c.Throttle, Lifetimes: c.Sessions, Factors: factors, Log: log, Outcome: metrics.LoginOutcome,
		Recovery: loginRecovery(c), Cooldown: cooldownPolicy(c), Later: login.NewLater(1024, log)}
	approvals, err := buildApprovals(c, st, factors, now, log)
	if err != nil {
		return nil, nil, err
	}
	// The security signals' rules in force, for forward-auth and logins.
	inForce := &signal.InForce{List: st.ListSignals}
	if err := inForce.Refresh(context.Background()); err != nil {
		return nil, nil, fmt.Errorf("read the security signals: %w", err)
	}
	svc.Signals = inForce
	keys.UseSignals(inForce)
	signals := &playbook.Service{Store: st, Sessions: sessions, Keys: keys, InForce: inForce, Now: now}
	decider, err := buildAuthz(c, st, keys, sessions, watch, approvals, inForce, now)
	if err != nil {
		return nil, nil, err
	}
	// What other instances revoke reaches the key and membership caches too.
	watch.Users, watch.ForgetAll = decider.ForgetUsers, decider.ForgetAll
	svc.Cooldown.Changed = func(id string) { decider.ForgetUsers(id) }
	// One posture service for both doors: the same rules decide who reads
	// which report and who changes which permissions.
	pst := &posturegate.Service{Store: st, Platform: posturegate.Platform{Entities: c.Entities, SignInNotices: c.SignInNotices(), FactorRule: c.Throttle.Factor},
		Admins: c.Admins, StepUpWindow: c.Factors.StepUpWindow, Now: now}
	tr := transmitter(c)
	if tr.Keys, err = signingKeys(c, log); err != nil {
		return nil, nil, err
	}
	tr.Store, tr.Log = st, log
	// Shared Signals push streams are delivered by the outbox too.
	worker.Senders[store.ChannelSSF] = tr.Sender()
	// One key set at /.well-known/jwks.json: the SSF signing keys and
	// the approval token key.
	jwks := func() []jose.JSONWebKey { return append(tr.JWKS(), approvals.Signer().JWKS().Keys...) }
	frz := newFreeze(c, st, hasher)
	frz.Sessions, frz.Keys = sessions, keys
	frz.Cooldown = svc.Cooldown
	svc.Freeze = frz.FromPhone // the phone's "This wasn't me"
	apiDeps := httpapi.Deps{SSF: tr, JWKS: jwks, Login: svc, Auth: &httpapi.Authenticator{Authenticator: auth, Origin: c.PublicOrigin, Cookies: cookies}, Proxies: c.Proxies(), LoginReplay: &dpop.ReplayCache{Window: c.DPoP.MaxAge},
		Log: log, Metrics: metrics, Now: now, Keys: keys, Authz: decider, LoginURL: c.Authz.LoginURL, Posture: pst, Approvals: approvals, Freeze: frz, Signals: signals,
		Cooldowns: &cooldown.Service{Store: st, Now: now}}
	api := httpapi.NewHandler(apiDeps)
	portal, err := web.NewHandler(web.Deps{Login: svc, Keys: keys, Posture: pst, Approvals: approvals, Freeze: frz, Auth: auth, Cookies: cookies, Origin: c.PublicOrigin, Proxies: c.Proxies(), Log: log, Now: now,
		ReturnHosts: c.ReturnHosts()})
	if err != nil {
		return nil, nil, err
	}
	h, err := server.Handler(server.Options{API: api, Authz: httpapi.AuthzHandler(apiDeps, "GET /v1/authz"), Web: portal, Store: st, Registry: reg, MetricsApart: c.Metrics.Listen != "", Origin: c.PublicOrigin, Log: log})
	if err != nil {
		return nil, nil, err
	}
	var cps *checkpointer
	if c.Audit.Checkpoints.Enabled() {
		// Validate has made sure a signing key is configured.
		cps = &checkpointer{st: st, key: tr.Keys[0], issuer: checkpointIssuer(c), now: time.Now, to: c.Audit.Checkpoints, log: log}
	}
	return h, &loops{extAuthz: httpapi.AuthzHandler(apiDeps, "ext_authz Check"), sessions: sessions, keys: keys, watch: watch, store: st, outbox: worker, hashes: hasher.Hashes, later: svc.Later, probe: newNotifyProbe(st, reg), signals: signals, inForce: inForce, remind: svc.RemindRecoveries, approvals: approvals, checkpoints: cps, log: log}, nil
}

// sharedOnce is where DPoP proofs and approval tokens are spent beyond
// the instance's own records: the store, when it is PostgreSQL (several
// instances may serve it); none for SQLite, which one instance serves,
// so that a DPoP-bound request costs it no write.
func sharedOnce(c *config.Config, st store.Store) store.Once {
	if c.DatabaseURL == "" {
		return nil
	}
	return st
}

// activeSessions exports the number of live sessions per interface,
// counted in the store at scrape time.
type activeSessions struct{ st store.Store }

var activeDesc = prometheus.NewDesc("gatehouse_active_sessions", "Sessions not ended and not past their absolute end, by interface.", []string{"interface"}, nil)

func (a activeSessions) Describe(ch chan<- *prometheus.Desc) { ch <- activeDesc }

func (a activeSessions) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := a.st.CountActiveSessions(ctx, time.Now())
	if err != nil {
		ch <- prometheus.NewInvalidMetric(activeDesc, err)
		return
	}
	for _, i := range []string{"web", "desktop", "mobile"} {
		ch <- prometheus.MustNewConstMetric(activeDesc, prometheus.GaugeValue, float64(counts[session.Door(i)]), i)
	}
}

// seedDemo creates the demo user and its accounts once, printing the
// generated password to standard output that one time.
func seedDemo(ctx context.Context, e *env, st store.Store, h *password.Hasher, log *slog.Logger) error {
	const name = "demo"
	if _, err := st.UserByUsername(ctx, name); err == nil {
		fmt.Fprintln(e.stdout, "demo mode: user \"demo\" exists; its password was printed when it was created")
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	pw, err := token.Base32Code(nil, 20)
	if err != nil {
		return err
	}
	u, err := createUser(ctx, st, h, name, "demo@example.com", user.Professional, pw, "system", time.Now())
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	for _, a := range []*account.Account{
		{ID: "DEMO-LIVE", Name: "Demo live account", Environment: account.Live, EntityCode: "US", CreatedAt: now},
		{ID: "DEMO-PAPER", Name: "Demo paper account", Environment: account.Paper, EntityCode: "US", CreatedAt: now},
	} {
		if err := createAccount(ctx, st, a, "system"); err != nil {
			return err
		}
		if err := addMember(ctx, authz.NewKeys(authz.KeysConfig{Store: st}), u.ID, a.ID, account.Owner); err != nil {
			return err
		}
	}
	log.Info("demo user created", "username", name)
	fmt.Fprintf(e.stdout, "demo mode: user %q, password %s (shown once; accounts DEMO-LIVE and DEMO-PAPER)\n", name, pw)
	return nil
}

// loginRecovery is the lost-factor recovery's configuration as login
// takes it.
func loginRecovery(c *config.Config) login.Recovery {
	return login.Recovery{Wait: c.Recovery.WaitFor, Admins: c.Admins, Starts: login.StartsRule(c.Recovery.Starts, c.Recovery.Window),
		SourceStarts: login.StartsRule(c.Recovery.SourceStarts, c.Recovery.Window)}
}
