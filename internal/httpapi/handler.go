package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/internal/fault"

	"gatehouse/internal/strictjson"
)

// handlerFunc is a handler that returns its failure instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// Metrics are the HTTP and login metrics.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	logins   *prometheus.CounterVec
}

// NewMetrics registers the API's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_http_requests_total", Help: "HTTP requests by route and status."}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gatehouse_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}}, []string{"route"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_logins_total", Help: "Login attempts by outcome."}, []string{"outcome"}),
	}
	reg.MustRegister(m.requests, m.latency, m.logins)
	return m
}

// LoginOutcome counts one login outcome.
func (m *Metrics) LoginOutcome(o string) { m.logins.WithLabelValues(o).Inc() }

// statusWriter remembers the status for metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// routeCounters are one route's request counters by status code, found
// without the label hashing and the strconv of CounterVec.WithLabelValues
// on every request: a copy-on-write map read with one atomic load.
type routeCounters struct {
	vec   *prometheus.CounterVec
	route string
	mu    sync.Mutex // held by writers of byCode
	// byCode is never modified once stored: a new code stores a copy.
	byCode atomic.Pointer[map[int]prometheus.Counter]
}

func (c *routeCounters) inc(code int) {
	if m := c.byCode.Load(); m != nil {
		if ctr, ok := (*m)[code]; ok {
			ctr.Inc()
			return
		}
	}
	c.mu.Lock()
	old := c.byCode.Load()
	m := make(map[int]prometheus.Counter, 4)
	if old != nil {
		maps.Copy(m, *old)
	}
	ctr, ok := m[code]
	if !ok {
		ctr = c.vec.WithLabelValues(c.route, strconv.Itoa(code))
		m[code] = ctr
		c.byCode.Store(&m)
	}
	c.mu.Unlock()
	ctr.Inc()
}

// adapt turns a handlerFunc into an http.Handler: it renders returned
// errors as problems, logs them and counts the request. A request that
// succeeds is not logged, and counting it allocates nothing.
func adapt(log *slog.Logger, m *Metrics, route string, h handlerFunc) http.Handler {
	var requests *routeCounters
	var latency prometheus.Observer
	if m != nil {
		requests = &routeCounters{vec: m.requests, route: route}
		latency = m.latency.WithLabelValues(route)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		if err := h(sw, r); err != nil {
			e := toError(err)
			if e.Problem.Status == statusClientClosed && r.Context().Err() == nil {
				// Canceled by the server itself, not by a client that left: a bug.
				e = kindError(fault.Internal, err)
			}
			logError(log, r, e)
			writeProblem(sw, e)
		}
		if requests != nil {
			code := sw.status
			if code == 0 {
				code = http.StatusOK
			}
			requests.inc(code)
			latency.Observe(time.Since(start).Seconds())
		}
	})
}

// maxBody caps request bodies: no JSON request of the API is near it.
const maxBody = 64 << 10

// validator is a request body that checks itself.
type validator interface {
	Valid(ctx context.Context) []FieldError
}

// decode reads one JSON object of type T from r, refusing forms, unknown
// fields, trailing data and bodies over maxBody, then validates it.
func decode[T validator](w http.ResponseWriter, r *http.Request) (T, error) {
	var v T
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return v, &Error{Problem: Problem{Type: "urn:gatehouse:problem:unsupported-media-type", Title: "Unsupported media type", Status: http.StatusUnsupportedMediaType, Detail: "Send application/json."}}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var big *http.MaxBytesError
	switch {
	case errors.As(err, &big):
		return v, kindError(fault.TooLarge, err) // 413: the request may be fine, only too large
	case err != nil:
		return v, errBadRequest(describeJSONError(err))
	}
	// strictjson, not encoding/json alone: a duplicate or case-variant key
	// would let a proxy or an audit log read another request than ours.
	if err := strictjson.Unmarshal(body, &v); err != nil {
		return v, errBadRequest(describeJSONError(err))
	}
	if fields := v.Valid(r.Context()); len(fields) > 0 {
		return v, errBadRequest("The request has invalid fields.", fields...)
	}
	return v, nil
}

// describeJSONError explains a decoding failure without echoing input.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var key *strictjson.KeyError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("Malformed JSON at byte %d.", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("Field %q has the wrong type (want %s).", typ.Field, typ.Type)
	case errors.Is(err, strictjson.ErrDuplicateKey):
		return "The body names a key twice in one object."
	case errors.As(err, &key) && errors.Is(err, strictjson.ErrKeyCase):
		return fmt.Sprintf("Keys are case-sensitive: spell the field %q exactly.", key.Field)
	case errors.Is(err, strictjson.ErrEncoding):
		return "The body must be valid UTF-8, with no NUL and no lone surrogate in its strings."
	case errors.Is(err, strictjson.ErrDepth):
		return "The body nests objects or arrays too deep."
	case errors.Is(err, strictjson.ErrTrailing):
		return "The body must hold one JSON object and nothing after it."
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "The body is empty or cut short."
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "Unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ") + "."
	}
	return "Malformed JSON."
}

// writeJSON answers v with status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}
