package cli

// The measured part of the core issue, as benchmarks: docs/benchmarks.md
// ("Core") says how to read them and records a run. They run only under
// -bench (make bench); make test never runs them.
//
// Everything goes through the handler serve builds (buildServer), called
// with httptest, with no sockets: the figures are the server's own work,
// and the ratios are not diluted by a constant network cost. The login
// benchmarks run it in this process; the session check runs it in one
// worker process per store (see TestSessionCheckWorker for why).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/internal/config"
	"gatehouse/internal/edge"
	"gatehouse/internal/emit"
	"gatehouse/internal/notify/notifytest"
	"gatehouse/internal/password"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/sqlite"
	"gatehouse/internal/token"
	"gatehouse/internal/user"
	"gatehouse/internal/webhook"
)

// benchSessions is the large store's size in BenchmarkSessionCheck. Lower
// it for a quick look (-bench.sessions=100000); the recorded figures use
// the default.
var benchSessions = flag.Int("bench.sessions", 1_000_000, "sessions in the large store of BenchmarkSessionCheck")

// benchPassword is the benchmark user's password. It protects nothing:
// the store lives in a temporary directory for the benchmark's run.
const benchPassword = "a benchmark passphrase, long enough"

// benchConfig is the configuration a production server starts from: the
// defaults, plus the one secret without a default, a random TOTP seed key
// (GATEHOUSE_SEED_KEY), validated as serve validates it.
func benchConfig(tb testing.TB) *config.Config {
	tb.Helper()
	key, err := token.Bytes(nil, 32)
	if err != nil {
		tb.Fatal(err)
	}
	env := map[string]string{"GATEHOUSE_SEED_KEY": base64.StdEncoding.EncodeToString(key)}
	c, err := config.Load("", func(k string) string { return env[k] })
	if err != nil {
		tb.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		tb.Fatal(err)
	}
	return c
}

// openBenchStore opens a SQLite store in a fresh temporary directory,
// closed when the test or benchmark ends.
func openBenchStore(b testing.TB) *sqlite.DB {
	b.Helper()
	st, err := sqlite.Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// startBench wires the server over st as serve does, with its background
// loops (the last-seen batcher) running every second as serve runs them,
// and stops them when tb ends. It logs nowhere: serve logs no successful
// request, and the benchmarks make no failing one.
func startBench(tb testing.TB, c *config.Config, st store.Store) http.Handler {
	tb.Helper()
	hasher := &password.Hasher{Params: c.Password.Argon2id}
	h, bg, err := buildServer(c, st, hasher, prometheus.NewRegistry(), newLogger(io.Discard, c))
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); bg.Run(ctx, time.Second) }()
	tb.Cleanup(func() { cancel(); <-done })
	return h
}

// clientAddr is the i-th of distinct loopback client addresses. Each
// login comes from a new address, so that no per-source throttle counter
// builds up over a run of hundreds of logins (at 296046f every attempt
// counted, successes included, and the 31st login from one address
// within an hour was delayed; see docs/benchmarks.md). The addresses only
// label in-process requests: nothing is sent to them.
func clientAddr(i int) string {
	i++
	return fmt.Sprintf("127.%d.%d.%d:40000", i>>16&0xff, i>>8&0xff, i&0xff)
}

// loginBench is a server with one user, and a browser that has logged in
// once and holds its device cookie.
type loginBench struct {
	h      http.Handler
	params password.Params
	device *http.Cookie
	n      int // logins so far, for clientAddr
}

func newLoginBench(b testing.TB) *loginBench { return newLoginBenchWith(b, false) }

// newLoginBenchWith is newLoginBench, with notices on when notices is
// set: mail to a real SMTP relay on loopback and one webhook endpoint
// that wants every event, through the store every verb opens (each audit
// event derives its outbox messages in its transaction), and the worker
// delivering them meanwhile, as serve runs it.
func newLoginBenchWith(b testing.TB, notices bool) *loginBench {
	b.Helper()
	c := benchConfig(b)
	var st store.Store = openBenchStore(b)
	if notices {
		relay := notifytest.Start(b, notifytest.Options{})
		go func() {
			for range relay.Messages {
			}
		}()
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
		b.Cleanup(hook.Close)
		secret, err := webhook.NewSecret(nil)
		if err != nil {
			b.Fatal(err)
		}
		c.Mail = config.Mail{Addr: relay.Addr, TLS: "none", From: "gatehouse@example.com", NotifySignIns: true}
		c.Webhooks = []config.Webhook{{URL: hook.URL + "/hook", Secret: secret, Events: []string{"*"}}}
		if err := c.Validate(); err != nil {
			b.Fatal(err)
		}
		ds, err := derivers(c)
		if err != nil {
			b.Fatal(err)
		}
		st = emit.Wrap(st, ds...)
	}
	hasher := &password.Hasher{Params: c.Password.Argon2id}
	if _, err := createUser(context.Background(), st, hasher, "alice", "alice@example.com", user.Professional, benchPassword, "bench", time.Now()); err != nil {
		b.Fatal(err)
	}
	lb := &loginBench{h: startBench(b, c, st), params: c.Password.Argon2id}
	rec := lb.login(b)
	name := edge.Cookies{Secure: c.Secure()}.Device()
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == name {
			lb.device = &http.Cookie{Name: ck.Name, Value: ck.Value}
		}
	}
	if lb.device == nil {
		b.Fatalf("first login set no %s cookie", name)
	}
	return lb
}

var loginBody = `{"username":"alice","password":"` + benchPassword + `","interface":"web"}`

// login makes one web login; the returning browser sends its device
// cookie once it has one.
func (lb *loginBench) login(b testing.TB) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", "/v1/login", strings.NewReader(loginBody))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "gatehouse-bench")
	req.RemoteAddr = clientAddr(lb.n)
	lb.n++
	if lb.device != nil {
		req.AddCookie(lb.device)
	}
	rec := httptest.NewRecorder()
	lb.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("POST /v1/login = %d %s", rec.Code, rec.Body)
	}
	return rec
}

// timed returns how long f took.
func timed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

// median returns the median of ds (the mean of the middle two for an
// even count).
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// BenchmarkLogin is a returning browser's password login (POST /v1/login,
// interface web, known device cookie) through the full handler on a real
// SQLite store with the default argon2id parameters.
func BenchmarkLogin(b *testing.B) {
	lb := newLoginBench(b)
	var ds []time.Duration
	for b.Loop() {
		ds = append(ds, timed(func() { lb.login(b) }))
	}
	b.ReportMetric(ms(median(ds)), "ms/median")
}

// BenchmarkArgon2idHash is a bare argon2id hash with the default
// parameters: the floor under a login.
func BenchmarkArgon2idHash(b *testing.B) {
	h := password.Hasher{Params: benchConfig(b).Password.Argon2id}
	var ds []time.Duration
	for b.Loop() {
		ds = append(ds, timed(func() {
			if _, err := h.Hash(benchPassword); err != nil {
				b.Fatal(err)
			}
		}))
	}
	b.ReportMetric(ms(median(ds)), "ms/median")
}

// BenchmarkLoginVsHash interleaves a login and a bare hash in every
// iteration, alternating which goes first, so that the machine's noise
// falls on both alike; login/hash is the ratio of their medians, the
// figure the core issue sets a target for (≤ 1.15). ns/op is one pair.
func BenchmarkLoginVsHash(b *testing.B) { loginVsHash(b, newLoginBench(b)) }

// loginVsHash times lb's logins against bare hashes, interleaved.
func loginVsHash(b *testing.B, lb *loginBench) {
	h := password.Hasher{Params: lb.params}
	hash := func() {
		if _, err := h.Hash(benchPassword); err != nil {
			b.Fatal(err)
		}
	}
	var logins, hashes []time.Duration
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			hashes = append(hashes, timed(hash))
			logins = append(logins, timed(func() { lb.login(b) }))
		} else {
			logins = append(logins, timed(func() { lb.login(b) }))
			hashes = append(hashes, timed(hash))
		}
	}
	l, hh := median(logins), median(hashes)
	b.ReportMetric(ms(l), "login-ms/median")
	b.ReportMetric(ms(hh), "hash-ms/median")
	b.ReportMetric(float64(l)/float64(hh), "login/hash")
}

// BenchmarkLoginVsHashNotices is BenchmarkLoginVsHash with notices on:
// each login also writes its sign-in notice (a mail with its freeze link,
// a webhook) into the outbox, and the worker sends them as the logins go.
func BenchmarkLoginVsHashNotices(b *testing.B) { loginVsHash(b, newLoginBenchWith(b, true)) }

// seededStore is a SQLite data directory holding n live web sessions,
// closed, for worker processes to serve.
type seededStore struct {
	n      int
	dir    string
	tokens []string // a sample of the sessions' tokens, spread evenly over them
	took   time.Duration
}

// label names a store size in metric units: 10k, 1M.
func label(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return strconv.Itoa(n/1_000_000) + "M"
	case n >= 1000 && n%1000 == 0:
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}

// seedSessions fills a fresh store with n live web sessions of n/10 users,
// through the store's own CreateUser and CreateSession (same schema, same
// indexes, same statements as a login), in transactions of 20 000 rows.
// Identifiers and tokens are random, as a login makes them, so the
// indexes have the shape real traffic gives them. It keeps the tokens of
// sample sessions spread evenly over the n, and closes the store, which
// checkpoints its WAL.
func seedSessions(b testing.TB, c *config.Config, n, sample int) *seededStore {
	b.Helper()
	ctx := context.Background()
	ss := &seededStore{n: n, dir: b.TempDir()}
	st, err := sqlite.Open(ctx, ss.dir)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	start := time.Now()

	// Users do not log in here, so one real hash serves them all.
	pwHash, err := (&password.Hasher{Params: c.Password.Argon2id}).Hash(benchPassword)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	nUsers := max(1, n/10)
	userIDs := make([]string, nUsers)
	const batch = 20_000
	for lo := 0; lo < nUsers; lo += batch {
		err := st.InTx(ctx, func(tx store.Tx) error {
			for i := lo; i < min(lo+batch, nUsers); i++ {
				id, err := token.New(nil, 12)
				if err != nil {
					return err
				}
				userIDs[i] = "usr_" + id
				name := fmt.Sprintf("trader%07d", i)
				u := &user.User{ID: userIDs[i], Username: name, Email: name + "@example.com", Profile: user.Professional,
					PasswordHash: pwHash, CreatedAt: now, UpdatedAt: now}
				if err := tx.CreateUser(ctx, u); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatalf("seed users: %v", err)
		}
	}

	life := c.Sessions[session.Web]
	every := max(1, n/sample)
	// Sessions started over the last six hours, all used just now, so none
	// is past its absolute or idle end while the benchmark runs.
	span := 6 * time.Hour
	for lo := 0; lo < n; lo += batch {
		err := st.InTx(ctx, func(tx store.Tx) error {
			for i := lo; i < min(lo+batch, n); i++ {
				tok, err := token.New(nil, 32)
				if err != nil {
					return err
				}
				id, err := token.New(nil, 12)
				if err != nil {
					return err
				}
				created := now.Add(-span * time.Duration(n-i) / time.Duration(n))
				u := i % nUsers
				s := &session.Session{ID: "ses_" + id, UserID: userIDs[u], Door: session.Web, TokenHash: token.Hash(tok),
					DeviceID: fmt.Sprintf("dev_bench%07d", u), DeviceName: "Firefox on Linux",
					IP: fmt.Sprintf("198.51.100.%d", i%250+1), UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
					Assurance: session.AAL1, AuthTime: created, CreatedAt: created, LastSeenAt: now, ExpiresAt: created.Add(life.Absolute), Idle: life.Idle}
				if err := tx.CreateSession(ctx, s); err != nil {
					return err
				}
				if i%every == 0 && len(ss.tokens) < sample {
					ss.tokens = append(ss.tokens, tok)
				}
			}
			return nil
		})
		if err != nil {
			b.Fatalf("seed sessions: %v", err)
		}
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	ss.took = time.Since(start)
	return ss
}

// size is the database's size on disk.
func (ss *seededStore) size() int64 {
	var total int64
	files, _ := filepath.Glob(filepath.Join(ss.dir, "gatehouse.db*"))
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			total += fi.Size()
		}
	}
	return total
}

// Environment of a session-check worker process (see
// TestSessionCheckWorker): the data directory it serves and its
// cache_max_age.
const (
	workerDirEnv   = "GATEHOUSE_BENCH_WORKER_DIR"
	workerCacheEnv = "GATEHOUSE_BENCH_WORKER_CACHE"
)

// TestSessionCheckWorker is not a test: it is the server process of
// BenchmarkSessionCheck, started by it with workerDirEnv set (the helper
// process pattern of os/exec's tests), and does nothing otherwise.
//
// Each store is served by a process of its own because two SQLite stores
// in one process share one page cache (modernc's SQLite is built with
// SQLITE_ENABLE_MEMORY_MANAGEMENT, which unifies the page caches of every
// connection): the large store's traffic then evicts the small store's
// pages, which makes the small one slower and the ratio look better than
// it is. Measured: 10k sessions alone 21 µs a look-up, 100k alone 24 µs
// (1.13); the same two in one process 27 and 25 µs (0.93).
//
// It serves the store over the handler serve builds, with the batcher
// running, and answers each line on standard input with one line on file
// descriptor 3, whose first field is 0 when all went well (else the HTTP
// status or "not-found" of a failure):
//
//	me TOKEN…      GET /v1/me with each TOKEN as the session cookie in turn → "0 NS…"
//	lookup TOKEN…  the store's SessionByTokenHash alone for each → "0 NS…"
//	mem            → "0 VMRSS_KB VMHWM_KB", this process's memory
//
// NS is the time in nanoseconds of one handler or store call: the pipes
// are not timed. It stops when its standard input closes.
func TestSessionCheckWorker(t *testing.T) {
	dir := os.Getenv(workerDirEnv)
	if dir == "" {
		return
	}
	ctx := context.Background()
	c := benchConfig(t)
	maxAge, err := time.ParseDuration(os.Getenv(workerCacheEnv))
	if err != nil {
		t.Fatalf("%s: %v", workerCacheEnv, err)
	}
	c.CacheMaxAge = maxAge
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := startBench(t, c, st)
	cookie := edge.Cookies{Secure: c.Secure()}.Session()

	out := bufio.NewWriter(os.NewFile(3, "replies"))
	fmt.Fprintln(out, "ready")
	out.Flush()
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "me", "lookup":
			// Only the handler or store call is timed, not the pipes.
			bad, ds := "0", make([]string, 0, len(f)-1)
			for _, tok := range f[1:] {
				var d time.Duration
				if f[0] == "me" {
					req := httptest.NewRequest("GET", "/v1/me", nil)
					req.AddCookie(&http.Cookie{Name: cookie, Value: tok})
					req.RemoteAddr = "127.0.0.1:40000"
					rec := httptest.NewRecorder()
					d = timed(func() { h.ServeHTTP(rec, req) })
					if rec.Code != http.StatusOK {
						bad = strconv.Itoa(rec.Code)
					}
				} else {
					var err error
					d = timed(func() { _, err = st.SessionByTokenHash(ctx, token.Hash(tok)) })
					if err != nil {
						bad = "not-found"
					}
				}
				ds = append(ds, strconv.FormatInt(d.Nanoseconds(), 10))
			}
			fmt.Fprintln(out, bad, strings.Join(ds, " "))
		case "mem":
			rss, hwm := procMemory()
			fmt.Fprintln(out, "0", rss, hwm)
		default:
			t.Fatalf("worker: unknown command %q", f[0])
		}
		out.Flush()
	}
}

// worker is a running TestSessionCheckWorker process.
type worker struct {
	n    int
	cmd  *exec.Cmd
	in   io.WriteCloser
	w    *bufio.Writer
	r    *bufio.Reader
	logs bytes.Buffer // the worker's own output, read after it ends
}

// startWorker starts a worker serving ss with the given cache_max_age; it
// stops when the test or benchmark ends.
func startWorker(b testing.TB, ss *seededStore, maxAge time.Duration) *worker {
	b.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	wk := &worker{n: ss.n, r: bufio.NewReader(r)}
	wk.cmd = exec.Command(os.Args[0], "-test.run=^TestSessionCheckWorker$", "-test.count=1")
	wk.cmd.Env = append(os.Environ(), workerDirEnv+"="+ss.dir, workerCacheEnv+"="+maxAge.String())
	wk.cmd.ExtraFiles = []*os.File{w}
	wk.cmd.Stdout, wk.cmd.Stderr = &wk.logs, &wk.logs
	if wk.in, err = wk.cmd.StdinPipe(); err != nil {
		b.Fatal(err)
	}
	wk.w = bufio.NewWriter(wk.in)
	if err := wk.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	w.Close()
	b.Cleanup(func() {
		wk.in.Close()
		wk.cmd.Wait()
		r.Close()
	})
	if line, err := wk.r.ReadString('\n'); err != nil || line != "ready\n" {
		b.Fatalf("worker on %d sessions did not start: %q %v\n%s", ss.n, line, err, wk.stop())
	}
	return wk
}

// stop ends the worker and returns its output, for a failure message.
func (wk *worker) stop() string {
	wk.in.Close()
	wk.cmd.Wait()
	return wk.logs.String()
}

// call sends one command line and returns the numbers of the answer.
func (wk *worker) call(b testing.TB, verb string, args ...string) []int64 {
	fmt.Fprintln(wk.w, verb, strings.Join(args, " "))
	if err := wk.w.Flush(); err != nil {
		b.Fatalf("worker on %d sessions: %v\n%s", wk.n, err, wk.stop())
	}
	line, err := wk.r.ReadString('\n')
	if err != nil {
		b.Fatalf("worker on %d sessions: %v\n%s", wk.n, err, wk.stop())
	}
	f := strings.Fields(line)
	if len(f) == 0 || f[0] != "0" {
		b.Fatalf("worker on %d sessions: %s answered %q", wk.n, verb, line)
	}
	out := make([]int64, 0, len(f)-1)
	for _, x := range f[1:] {
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			b.Fatalf("worker on %d sessions answered %q", wk.n, line)
		}
		out = append(out, n)
	}
	return out
}

// check makes one request or look-up per token, one after the other, and
// appends the time each took to ds.
func (wk *worker) check(b testing.TB, ds []time.Duration, verb string, toks []string) []time.Duration {
	for _, ns := range wk.call(b, verb, toks...) {
		ds = append(ds, time.Duration(ns))
	}
	return ds
}

// BenchmarkSessionCheck is the session check (GET /v1/me with a web
// session cookie) on a store of 10 000 sessions and on one of 1 000 000
// (-bench.sessions), each served by a process of its own (see
// TestSessionCheckWorker), a burst of 10 requests to each in every
// iteration, alternating which goes first. 1M/10k is the ratio of the
// medians of single requests, the figure the core issue sets a target for
// (≤ 1.5). ns/op is one round of 10 requests to each server including the
// pipe round trips: read the medians, which time the handler alone.
// Bursts rather than single requests: a request right after the process
// woke up from its pipe runs on cold CPU caches, and that constant cost
// would dilute the ratio.
//
// Sub-benchmarks:
//   - cache=1s/tokens=1: the default configuration, one session asking
//     again and again: after the first request the authn cache answers.
//   - cache=off/tokens=1: cache_max_age 0, so every request reads the
//     store, always the same session: its index path stays in SQLite's
//     page cache.
//   - cache=off/tokens=10000: every request reads the store, for 10 000
//     distinct sessions in turn spread over the whole store, so the path
//     is rarely cached: the honest cost of the look-up at scale, since
//     real traffic comes from many sessions.
//   - store/tokens=10000: the store's SessionByTokenHash alone, for the
//     same 10 000 sessions: the part of the check that can grow with the
//     store, without the handler's fixed cost.
//
// Each also reports the resident memory (VmRSS) and its peak (VmHWM) of
// the server process holding the large store, after its run.
func BenchmarkSessionCheck(b *testing.B) {
	c := benchConfig(b)
	const (
		sample = 10_000
		burst  = 10
	)
	small := seedSessions(b, c, 10_000, sample)
	large := seedSessions(b, c, *benchSessions, sample)
	var seeding []string
	for _, ss := range []*seededStore{small, large} {
		seeding = append(seeding, fmt.Sprintf("seeded %d sessions in %v (%.0f/s), database %.0f MiB", ss.n, ss.took.Round(time.Millisecond),
			float64(ss.n)/ss.took.Seconds(), float64(ss.size())/(1<<20)))
	}
	logged := false
	sl, ll := label(small.n), label(large.n)
	if sl == ll {
		// -bench.sessions=10000 compares two stores of one size: an A/A
		// check of the method, whose ratio should be 1.
		ll += "b"
	}

	run := func(b *testing.B, ws, wl *worker, verb string, tokens int) {
		if !logged {
			// Logged here, not by the parent: a benchmark's log shows
			// with its result line, a parent's only under -v.
			b.Log(strings.Join(seeding, "; "))
			logged = true
		}
		var ds, dl []time.Duration
		ts, tl := make([]string, burst), make([]string, burst)
		for i := 0; b.Loop(); i++ {
			for k := range burst {
				ts[k], tl[k] = small.tokens[(i*burst+k)%tokens], large.tokens[(i*burst+k)%tokens]
			}
			if i%2 == 0 {
				ds = ws.check(b, ds, verb, ts)
				dl = wl.check(b, dl, verb, tl)
			} else {
				dl = wl.check(b, dl, verb, tl)
				ds = ws.check(b, ds, verb, ts)
			}
		}
		s, l := median(ds), median(dl)
		b.ReportMetric(us(s), sl+"-us/median")
		b.ReportMetric(us(l), ll+"-us/median")
		b.ReportMetric(float64(l)/float64(s), ll+"/"+sl)
		mem := wl.call(b, "mem")
		b.ReportMetric(float64(mem[0])/1024, ll+"-VmRSS-MiB")
		b.ReportMetric(float64(mem[1])/1024, ll+"-VmHWM-MiB")
	}
	for _, v := range []struct {
		name   string
		maxAge time.Duration
		verb   string
		tokens int
	}{
		{"cache=1s/tokens=1", c.CacheMaxAge, "me", 1},
		{"cache=off/tokens=1", 0, "me", 1},
		{"cache=off/tokens=10000", 0, "me", sample},
		{"store/tokens=10000", 0, "lookup", sample},
	} {
		b.Run(v.name, func(b *testing.B) {
			// Fresh servers for each: a server starting on its store.
			ws, wl := startWorker(b, small, v.maxAge), startWorker(b, large, v.maxAge)
			run(b, ws, wl, v.verb, v.tokens)
		})
	}
}

// procMemory reads this process's resident memory and its peak, in kB,
// from /proc/self/status (Linux); 0 where it cannot.
func procMemory() (rss, hwm int64) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for line := range strings.Lines(string(data)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			continue
		}
		if k == "VmRSS" {
			rss = n
		} else {
			hwm = n
		}
	}
	return rss, hwm
}

// TestBenchHarness checks the benchmarks' machinery, untimed, so that
// make test notices when a change to the server breaks it: a login,
// seeding, and a worker answering each command over a small store.
func TestBenchHarness(t *testing.T) {
	lb := newLoginBench(t)
	lb.login(t)
	if lb.n != 2 {
		t.Errorf("logins made = %d, want 2", lb.n)
	}

	c := benchConfig(t)
	ss := seedSessions(t, c, 50, 5)
	if len(ss.tokens) != 5 {
		t.Fatalf("seedSessions(50, 5) kept %d tokens, want 5", len(ss.tokens))
	}
	for _, maxAge := range []time.Duration{c.CacheMaxAge, 0} {
		wk := startWorker(t, ss, maxAge)
		for _, verb := range []string{"me", "lookup"} {
			ds := wk.check(t, nil, verb, ss.tokens)
			if len(ds) != len(ss.tokens) {
				t.Fatalf("%s with %d tokens: %d timings", verb, len(ss.tokens), len(ds))
			}
			for _, d := range ds {
				if d <= 0 {
					t.Errorf("%s: timing %v, want > 0", verb, d)
				}
			}
		}
		if mem := wk.call(t, "mem"); len(mem) != 2 || mem[0] <= 0 || mem[1] < mem[0] {
			t.Errorf("mem = %v, want VmRSS > 0 and VmHWM ≥ VmRSS", mem)
		}
	}
}

// TestBenchWorkerRefusesUnknownToken checks that a worker reports a
// request that failed, so that a benchmark cannot time error answers.
func TestBenchWorkerRefusesUnknownToken(t *testing.T) {
	ss := seedSessions(t, benchConfig(t), 10, 1)
	wk := startWorker(t, ss, 0)
	fmt.Fprintln(wk.w, "me", "not-a-session-token")
	wk.w.Flush()
	line, err := wk.r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(line); len(got) != 2 || got[0] != "401" {
		t.Errorf("worker answer for an unknown token = %q, want \"401 NANOSECONDS\"", line)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []time.Duration
		want time.Duration
	}{
		{nil, 0},
		{[]time.Duration{5}, 5},
		{[]time.Duration{9, 1, 5}, 5},
		{[]time.Duration{4, 1, 3, 2}, 2}, // (2+3)/2 in integer nanoseconds
		{[]time.Duration{10, 30, 20, 1000}, 25},
	}
	for _, tt := range tests {
		in := slices.Clone(tt.in)
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", in, got, tt.want)
		}
		if !slices.Equal(in, tt.in) {
			t.Errorf("median reordered its input: %v, was %v", tt.in, in)
		}
	}
}

func TestLabel(t *testing.T) {
	for n, want := range map[int]string{10_000: "10k", 1_000_000: "1M", 100_000: "100k", 2_000_000: "2M", 1500: "1500", 12_345: "12345", 1_500_000: "1500k"} {
		if got := label(n); got != want {
			t.Errorf("label(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestClientAddrDistinct(t *testing.T) {
	seen := map[string]bool{}
	for i := range 70_000 {
		a := clientAddr(i)
		if seen[a] {
			t.Fatalf("clientAddr(%d) = %s, used before", i, a)
		}
		seen[a] = true
	}
}
