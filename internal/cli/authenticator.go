package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"gatehouse/internal/approval"
	"gatehouse/internal/authz"
	"gatehouse/internal/dpop"
	"gatehouse/internal/factor/push"
	"gatehouse/internal/login"
)

// The reference phone client: it does what the mobile app's authenticator
// does, so operators and tests can approve logins from a terminal.
func init() {
	verbs["authenticator"] = verb{summary: "act as the phone authenticator (enrol, pending, approve, deny)", run: subverbs("authenticator", map[string]func(context.Context, *env, []string) error{
		"enrol":   runAuthEnrol,
		"pending": runAuthPending,
		"approve": func(ctx context.Context, e *env, args []string) error {
			return runAuthAnswer(ctx, e, args, push.Approve)
		},
		"deny": func(ctx context.Context, e *env, args []string) error { return runAuthAnswer(ctx, e, args, push.Deny) },
	})}
}

// phone is the authenticator's state: its key (a 0600 PEM file) and server.
type phone struct {
	dir    string
	server string
	key    *ecdsa.PrivateKey
	client *http.Client
}

func stateFlag(e *env, fs *flag.FlagSet) *string {
	def := ".gatehouse-authenticator"
	if home := e.getenv("HOME"); home != "" {
		def = filepath.Join(home, def)
	}
	return fs.String("state", def, "`dir`ectory holding the authenticator's key (0600) and server")
}

func loadPhone(dir string) (*phone, error) {
	b, err := os.ReadFile(filepath.Join(dir, "key.pem"))
	if err != nil {
		return nil, fmt.Errorf("no authenticator in %s: run 'gatehouse authenticator enrol' first", dir)
	}
	key, err := dpop.ParseKey(b)
	if err != nil {
		return nil, err
	}
	srv, err := os.ReadFile(filepath.Join(dir, "server"))
	if err != nil {
		return nil, err
	}
	return &phone{dir: dir, server: strings.TrimSpace(string(srv)), key: key, client: &http.Client{Timeout: 15 * time.Second}}, nil
}

// do sends a request proved by the phone's key (a DPoP proof without a token).
func (p *phone) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	s, err := dpop.NewSigner(p.key)
	if err != nil {
		return nil, err
	}
	u := p.server + path
	proof, err := s.Proof(method, u, "", time.Now())
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("DPoP", proof)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return send(p.client, req)
}

func send(c *http.Client, req *http.Request) ([]byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		var p struct{ Title, Detail string }
		json.Unmarshal(b, &p)
		return nil, fmt.Errorf("server answered %d: %s %s", resp.StatusCode, p.Title, p.Detail)
	}
	return b, nil
}

func runAuthEnrol(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "authenticator enrol", "authenticator enrol --server URL --code CODE [--name NAME] [--state DIR]")
	state := stateFlag(e, fs)
	server := fs.String("server", "", "gatehouse `url`, e.g. https://auth.example.com")
	code := fs.String("code", "", "the enrolment `code` the portal or POST /v1/factors/push showed")
	name := fs.String("name", "Phone", "`name` of this authenticator")
	if err := parse(fs, args); err != nil {
		return err
	}
	u, err := url.Parse(*server)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return usageError("--server: want the gatehouse URL, e.g. https://auth.example.com")
	}
	if *code == "" {
		return usageError("--code is required")
	}
	key, err := dpop.GenerateKey()
	if err != nil {
		return err
	}
	body, err := push.MarshalRegistration(key, strings.TrimSpace(*code), *name)
	if err != nil {
		return err
	}
	req, _ := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(*server, "/")+"/v1/push/register", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if _, err := send(&http.Client{Timeout: 15 * time.Second}, req); err != nil {
		return fmt.Errorf("enrol: %w", err)
	}
	pem, err := dpop.MarshalKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*state, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*state, "key.pem"), pem, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*state, "server"), []byte(strings.TrimRight(*server, "/")+"\n"), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "authenticator %q enrolled; key kept in %s\n", *name, filepath.Join(*state, "key.pem"))
	return nil
}

// pending is what waits for the phone: login pushes, approvals, notices.
type pending struct {
	Pushes    []login.PhonePrompt   `json:"pending"`
	Approvals []authz.PhoneApproval `json:"approvals"`
	Notices   []login.PhoneNotice   `json:"notices"`
}

func pendingOf(ctx context.Context, p *phone) (*pending, error) {
	b, err := p.do(ctx, "GET", "/v1/push/pending", nil)
	if err != nil {
		return nil, err
	}
	var out pending
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func runAuthPending(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "authenticator pending", "authenticator pending [--state DIR]")
	state := stateFlag(e, fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	p, err := loadPhone(*state)
	if err != nil {
		return err
	}
	ps, err := pendingOf(ctx, p)
	if err != nil {
		return err
	}
	if err := showNotices(ctx, e, p, ps.Notices); err != nil {
		return err
	}
	if len(ps.Pushes) == 0 && len(ps.Approvals) == 0 {
		fmt.Fprintln(e.stdout, "no pending requests")
		return nil
	}
	if len(ps.Pushes) > 0 {
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tFOR\tDOOR\tFROM\tDEVICE\tEXPIRES")
		for _, x := range ps.Pushes {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", x.ChallengeID, x.Purpose, x.Interface, x.IP, x.DeviceName, x.ExpiresAt.Local().Format(time.TimeOnly))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, a := range ps.Approvals {
		// What is shown is read from the details themselves, and their
		// hash checked, so a server that lied about either is caught here.
		fmt.Fprintf(e.stdout, "\napproval %s: %s on account %s (expires %s)\n", a.ID, a.Kind, a.Account, a.ExpiresAt.Local().Format(time.TimeOnly))
		if err := checkApprovalHash(&a); err != nil {
			fmt.Fprintf(e.stdout, "  WARNING: %v; do not approve\n", err)
			continue
		}
		for _, line := range approval.Words(a.Kind, a.Details) {
			fmt.Fprintf(e.stdout, "  %s\n", line)
		}
	}
	return nil
}

// showNotices prints the notices the server has for the phone, each
// with the id that "This wasn't me" names, and tells the server, signed,
// that the phone has them: they are delivered, and not given again.
func showNotices(ctx context.Context, e *env, p *phone, ns []login.PhoneNotice) error {
	for _, n := range ns {
		mark := ""
		if n.Critical {
			mark = " [security]"
		}
		fmt.Fprintf(e.stdout, "notice %s%s: %s (%s)\n  %s\n", n.ID, mark, n.Subject, n.Time.Local().Format(time.DateTime), n.Says)
		for _, f := range n.Facts {
			fmt.Fprintf(e.stdout, "  %s: %s\n", f.Label, f.Value)
		}
		fmt.Fprintf(e.stdout, "  %s\n  Not you? gatehouse authenticator deny --report --id %s\n\n", n.Advice, n.ID)
		if _, err := answerNotice(ctx, p, n.ID, push.Seen); err != nil {
			return fmt.Errorf("notice %s: %w", n.ID, err)
		}
	}
	return nil
}

// answerNotice sends the phone's signed answer to a notice and returns
// the outcome.
func answerNotice(ctx context.Context, p *phone, id string, d push.Decision) (string, error) {
	resp := push.Response{ChallengeID: id, Decision: d, SignedAt: time.Now().Truncate(time.Second)}
	sig, err := push.Sign(p.key, resp)
	if err != nil {
		return "", err
	}
	body, err := push.MarshalResponse(resp, sig)
	if err != nil {
		return "", err
	}
	b, err := p.do(ctx, "POST", "/v1/push/respond", body)
	if err != nil {
		return "", err
	}
	var out struct{ Outcome string }
	json.Unmarshal(b, &out)
	return out.Outcome, nil
}

// frozenText is what the authenticator says once its answer froze the
// account.
const frozenText = "The account is frozen: every session ended and every API key is suspended. Unfreeze by signing in with your strongest factor and choosing a new password."

// checkApprovalHash recomputes the hash of the details shown: the phone
// signs only what it displayed.
func checkApprovalHash(a *authz.PhoneApproval) error {
	h, err := approval.Hash(a.Details)
	if err != nil {
		return fmt.Errorf("details unreadable: %w", err)
	}
	if h != a.Hash {
		return errors.New("the details do not match their hash")
	}
	return nil
}

func runAuthAnswer(ctx context.Context, e *env, args []string, d push.Decision) error {
	usage := "authenticator approve [--number N] [--id ID] [--state DIR]"
	if d == push.Deny {
		usage = "authenticator deny [--report] [--id ID] [--state DIR]  (--report --id NOTICE: \"This wasn't me\" to a notice)"
	}
	fs := newFlagSet(e, "authenticator "+string(d), usage)
	state := stateFlag(e, fs)
	id := fs.String("id", "", "the request or approval `id` (default: the only pending one)")
	var number *int
	var report *bool
	if d == push.Approve {
		number = fs.Int("number", 0, "the `number` the login screen shows (logins only; an approval needs none)")
	} else {
		report = fs.Bool("report", false, "answer \"This wasn't me\": deny the request and freeze the account (every session ended, every API key suspended)")
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	p, err := loadPhone(*state)
	if err != nil {
		return err
	}
	ps, err := pendingOf(ctx, p)
	if err != nil {
		return err
	}
	if report != nil && *report && strings.HasPrefix(*id, "msg_") {
		// "This wasn't me" to a notice the phone was shown: it may have
		// been delivered already, so it is not looked for among the pending.
		outcome, err := answerNotice(ctx, p, *id, push.Report)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "notice %s: %s\n", *id, outcome)
		if outcome == "reported" {
			fmt.Fprintln(e.stdout, frozenText)
		}
		return nil
	}
	var target *login.PhonePrompt
	var appr *authz.PhoneApproval
	n := 0
	for i := range ps.Pushes {
		if *id == "" || ps.Pushes[i].ChallengeID == *id {
			target, n = &ps.Pushes[i], n+1
		}
	}
	for i := range ps.Approvals {
		if *id == "" || ps.Approvals[i].ID == *id {
			appr, n = &ps.Approvals[i], n+1
		}
	}
	switch {
	case n == 0:
		return errors.New("no such pending request")
	case n > 1:
		return errors.New("several requests are pending: choose one with --id (see 'gatehouse authenticator pending')")
	case appr != nil:
		return answerApproval(ctx, e, p, appr, d)
	}
	if number != nil && (*number < 10 || *number > 99) {
		return usageError("--number: the two-digit number the login screen shows")
	}
	resp := push.Response{ChallengeID: target.ChallengeID, Decision: d, SignedAt: time.Now().Truncate(time.Second)}
	if number != nil {
		resp.Number = *number
	}
	if report != nil && *report {
		resp.Decision = push.Report
	}
	sig, err := push.Sign(p.key, resp)
	if err != nil {
		return err
	}
	body, err := push.MarshalResponse(resp, sig)
	if err != nil {
		return err
	}
	b, err := p.do(ctx, "POST", "/v1/push/respond", body)
	if err != nil {
		return err
	}
	var out struct{ Outcome string }
	json.Unmarshal(b, &out)
	fmt.Fprintf(e.stdout, "%s from %s (%s): %s\n", target.Purpose, target.IP, target.Interface, out.Outcome)
	if out.Outcome == "reported" {
		fmt.Fprintln(e.stdout, frozenText)
	}
	return nil
}

// answerApproval signs the hash of the details it shows, having checked
// that they match, and sends the answer.
func answerApproval(ctx context.Context, e *env, p *phone, a *authz.PhoneApproval, d push.Decision) error {
	if err := checkApprovalHash(a); err != nil {
		return fmt.Errorf("approval %s: %w; refusing to sign", a.ID, err)
	}
	ans := approval.Answer{ApprovalID: a.ID, Decision: approval.Approve, Hash: a.Hash, SignedAt: time.Now().Truncate(time.Second)}
	if d != push.Approve {
		ans.Decision = approval.Deny
	}
	sig, err := approval.SignAnswer(p.key, ans)
	if err != nil {
		return err
	}
	body, err := approval.MarshalAnswer(ans, sig)
	if err != nil {
		return err
	}
	b, err := p.do(ctx, "POST", "/v1/approvals/answer", body)
	if err != nil {
		return err
	}
	var out struct{ Status string }
	json.Unmarshal(b, &out)
	what := "no details"
	if w := approval.Words(a.Kind, a.Details); len(w) > 0 {
		what = w[0]
	}
	fmt.Fprintf(e.stdout, "%s on account %s (%s): %s\n", a.Kind, a.Account, what, out.Status)
	if out.Status == string(approval.Denied) {
		fmt.Fprintln(e.stdout, "If you did not ask for it, someone may be acting in your name: freeze the account (\"This wasn't me\" in the notice, or POST /v1/freeze from a session).")
	}
	return nil
}
