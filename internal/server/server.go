// Package server assembles gatehouse's HTTP surface — the API, the
// browser portal and the operations endpoints — and runs it until its
// context ends, then shuts down gracefully.
package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Pinger is what readiness needs of the store.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Options are what [Handler] assembles.
type Options struct {
	API http.Handler // the /v1/ API
	// Authz, when set, is forward-auth (GET /v1/authz, the API's own
	// route) served by the root mux directly, past the API's mux and its
	// cross-origin protection: it runs before every proxied request, and
	// cross-origin protection lets a GET through unchecked anyway.
	Authz http.Handler
	Web   http.Handler // the browser portal at /; nil answers 404
	Store Pinger
	// Registry is served at /metrics, unless MetricsApart.
	Registry *prometheus.Registry
	// MetricsApart leaves /metrics out (it answers 404): [Metrics] serves
	// it on a listener of its own (config metrics.listen).
	MetricsApart bool
	// Origin is the public origin; cross-origin requests from it are
	// accepted by the API's cookie-authenticated routes.
	Origin string
	Log    *slog.Logger
}

// Handler returns the root handler.
func Handler(o Options) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		if err := o.Store.Ping(ctx); err != nil {
			o.Log.Warn("readiness: store does not answer", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"status":"store unavailable"}` + "\n"))
			return
		}
		w.Write([]byte(`{"status":"ready"}` + "\n"))
	})
	if !o.MetricsApart {
		mux.Handle("GET /metrics", promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{}))
	}

	// The API takes cookies only behind cross-origin protection, so the
	// portal's scripts and curl share one API while no other site can
	// drive it with a visitor's cookie.
	cop := http.NewCrossOriginProtection()
	if err := cop.AddTrustedOrigin(o.Origin); err != nil {
		return nil, fmt.Errorf("server: public origin: %w", err)
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusForbidden)
		json.NewEncoder(w).Encode(map[string]any{"type": "urn:gatehouse:problem:cross-origin", "title": "Cross-origin request refused", "status": 403,
			"detail": "State-changing requests from another origin are refused."})
	}))
	mux.Handle("/v1/", apiHeaders(cop.Handler(o.API)))
	if o.Authz != nil {
		mux.Handle("GET /v1/authz", apiHeaders(o.Authz))
	}
	// The Shared Signals transmitter's configuration and the keys of its
	// tokens are the API's too, at the paths RFC 8615 fixes.
	mux.Handle("GET /.well-known/", apiHeaders(o.API))
	web := o.Web
	if web == nil {
		web = http.NotFoundHandler()
	}
	mux.Handle("/", web)
	return mux, nil
}

// Metrics returns the handler of a metrics listener: GET /metrics and
// nothing else.
func Metrics(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

// Pprof returns the handler of the --pprof listener: net/http/pprof's
// profiles under /debug/pprof/, on a mux of its own, so that nothing
// registered on http.DefaultServeMux is served with them. Serve it with
// [ServePprof]: a profile takes as long as it asks for.
func Pprof() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

// The API's security headers, canonical, their values built once: a
// Header.Set would allocate a []string for each on every request. The
// values have no spare capacity, so a handler's Header.Add copies them
// rather than writing into the shared arrays.
var (
	nosniff    = []string{"nosniff"}
	noReferrer = []string{"no-referrer"}
	noStore    = []string{"no-store"}
)

func apiHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd["X-Content-Type-Options"] = nosniff[:1:1]
		hd["Referrer-Policy"] = noReferrer[:1:1]
		hd["Cache-Control"] = noStore[:1:1]
		h.ServeHTTP(w, r)
	})
}

// Serve serves h on l until ctx ends, then stops accepting, lets requests
// in flight finish for up to 10 seconds, and returns. With certFile and
// keyFile it serves TLS 1.2 or later.
func Serve(ctx context.Context, l net.Listener, h http.Handler, certFile, keyFile string, log *slog.Logger) error {
	return serve(ctx, l, &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10, // credentials fit; header floods do not
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}, certFile, keyFile, log)
}

// ServePprof serves [Pprof] on l as [Serve] does, but without a write
// timeout: a CPU profile or a trace answers after the seconds it asks
// for (30 by default).
func ServePprof(ctx context.Context, l net.Listener, log *slog.Logger) error {
	return serve(ctx, l, &http.Server{Handler: Pprof(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}, "", "", log)
}

func serve(ctx context.Context, l net.Listener, srv *http.Server, certFile, keyFile string, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() {
		if certFile != "" {
			srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			errc <- srv.ServeTLS(l, certFile, keyFile)
		} else {
			errc <- srv.Serve(l)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("server: shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
