// Package extauthz answers Envoy's external authorization over gRPC
// (envoy.service.auth.v3.Authorization/Check), which Envoy and Istio's
// CUSTOM action ask before every request, with the decision of
// forward-auth's GET /v1/authz: the CheckRequest's attributes become the
// forwarded request that handler reads, and its answer becomes an
// OkHttpResponse with the identity headers or a DeniedHttpResponse with
// the status, headers and problem document it gave. There is one
// decision, not two that could drift apart.
package extauthz

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"

	"gatehouse/internal/approvalcheck"
	"gatehouse/internal/httpapi"
)

// MaxRequest bounds a CheckRequest: the HTTP listener takes 32 KiB of
// headers, and Envoy sends those and its attributes.
const MaxRequest = 256 << 10

// NewServer returns a gRPC server with the Authorization service over
// authz, the forward-auth handler ([httpapi.AuthzHandler]).
func NewServer(authz http.Handler) *grpc.Server {
	s := grpc.NewServer(grpc.MaxRecvMsgSize(MaxRequest))
	authv3.RegisterAuthorizationServer(s, &Service{Authz: authz})
	return s
}

// Service is the Authorization service.
type Service struct {
	authv3.UnimplementedAuthorizationServer
	// Authz decides, as GET /v1/authz does; it checks that the peer (the
	// gRPC connection's, Envoy's) is a trusted proxy.
	Authz http.Handler
}

// The request headers forward-auth reads, by the lower-case names Envoy
// gives them. Nothing else of the client's is passed: the forwarded
// method, URI, host, scheme and client address come from Envoy's own
// attributes, never from headers a client could have set.
var passed = [...][2]string{
	{"authorization", "Authorization"},
	{"cookie", "Cookie"},
	{"dpop", "Dpop"},
	{"accept", "Accept"},
	{"gatehouse-account", "Gatehouse-Account"},
	{"gatehouse-approval", "Gatehouse-Approval"},
	{"gatehouse-amount", "Gatehouse-Amount"},
}

// answered are the headers an allowed request carries to the upstream:
// the identity, and what an approval approved or waived.
var answered = append(httpapi.IdentityHeaders[:], approvalcheck.HashHeader, approvalcheck.WaivedHeader)

// Check answers one CheckRequest.
func (s *Service) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	r := toHTTP(ctx, req)
	var w recorder
	w.header = http.Header{}
	s.Authz.ServeHTTP(&w, r)
	return toCheck(&w), nil
}

// toHTTP is the forward-auth request that describes req, as Caddy's
// forward_auth would send it (X-Forwarded-Method, -Uri, -Host, -Proto),
// from the gRPC peer, with the client's address (Envoy's source) as the
// only X-Forwarded-For entry.
func toHTTP(ctx context.Context, req *authv3.CheckRequest) *http.Request {
	attrs := req.GetAttributes()
	hr := attrs.GetRequest().GetHttp()
	h := http.Header{}
	set := func(k, v string) {
		if v != "" {
			h[k] = []string{v}
		}
	}
	set("X-Forwarded-Method", hr.GetMethod())
	set("X-Forwarded-Uri", hr.GetPath())
	set("X-Forwarded-Host", hr.GetHost())
	set("X-Forwarded-Proto", hr.GetScheme())
	set("X-Forwarded-For", attrs.GetSource().GetAddress().GetSocketAddress().GetAddress())
	if m := hr.GetHeaders(); len(m) > 0 {
		for _, p := range passed {
			if v, ok := m[p[0]]; ok {
				h[p[1]] = []string{v}
			}
		}
	} else {
		// With encode_raw_headers, Envoy sends each header apart, in
		// header_map: a header sent twice stays twice, for forward-auth
		// to refuse as it does over HTTP.
		for _, hv := range hr.GetHeaderMap().GetHeaders() {
			for _, p := range passed {
				if hv.GetKey() == p[0] {
					v := string(hv.GetRawValue())
					if v == "" {
						v = hv.GetValue()
					}
					h[p[1]] = append(h[p[1]], v)
				}
			}
		}
	}
	remote := ""
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		remote = p.Addr.String()
	}
	r := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/v1/authz"}, Proto: "HTTP/2.0", ProtoMajor: 2,
		Header: h, Host: hr.GetHost(), RemoteAddr: remote, RequestURI: "/v1/authz", Body: http.NoBody}
	return r.WithContext(ctx)
}

// toCheck turns forward-auth's answer into Envoy's.
func toCheck(w *recorder) *authv3.CheckResponse {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	if status == http.StatusOK {
		ok := &authv3.OkHttpResponse{}
		for _, name := range answered {
			if v := w.header.Get(name); v != "" {
				ok.Headers = append(ok.Headers, &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: name, Value: v},
					AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD})
			} else {
				// A client's own copy must not reach the upstream as ours.
				ok.HeadersToRemove = append(ok.HeadersToRemove, name)
			}
		}
		return &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.OK)},
			HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: ok}}
	}
	code := codes.PermissionDenied
	switch {
	case status == http.StatusUnauthorized || status == http.StatusFound:
		code = codes.Unauthenticated
	case status >= 500:
		code = codes.Unavailable
	}
	denied := &authv3.DeniedHttpResponse{Status: &typev3.HttpStatus{Code: typev3.StatusCode(status)}, Body: w.body.String()}
	for name, vals := range w.header {
		for _, v := range vals {
			denied.Headers = append(denied.Headers, &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: name, Value: v},
				AppendAction: corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD})
		}
	}
	return &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(code)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: denied}}
}

// recorder keeps what forward-auth answered.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}

// Serve serves s on l until ctx ends, then lets calls in flight finish
// for up to 10 seconds, stops, and returns.
func Serve(ctx context.Context, l net.Listener, s *grpc.Server) error {
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stopped := make(chan struct{})
	go func() { s.GracefulStop(); close(stopped) }()
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-stopped:
	case <-t.C:
		s.Stop()
		<-stopped
	}
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}
