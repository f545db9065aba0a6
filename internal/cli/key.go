package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"gatehouse/internal/apikey"
	"gatehouse/internal/authn"
	"gatehouse/internal/authz"
	"gatehouse/internal/config"
	"gatehouse/internal/dpop"
	"gatehouse/internal/signal"
	"gatehouse/internal/store"
)

func init() {
	verbs["key"] = verb{summary: "create, list, rotate and revoke API keys", run: subverbs("key", map[string]func(context.Context, *env, []string) error{
		"create": runKeyCreate,
		"list":   runKeyList,
		"rotate": runKeyRotate,
		"revoke": runKeyRevoke,
	})}
}

// buildAuthz wires forward-auth over the store and the caches.
func buildAuthz(c *config.Config, st store.Store, keys *authz.Keys, sessions *authn.Sessions, watch *authn.Watcher, approvals *authz.Approvals, signals *signal.InForce, now func() time.Time) (*authz.Service, error) {
	rules, err := c.RuleSet()
	if err != nil {
		return nil, err
	}
	var networks *authz.NetworkMap
	if f := c.Authz.NetworksFile; f != "" {
		r, err := os.Open(f)
		if err != nil {
			return nil, fmt.Errorf("authz.networks_file: %w", err)
		}
		networks, err = authz.ParseNetworkMap(r)
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("authz.networks_file %s: %w", f, err)
		}
	}
	return authz.New(authz.Config{Rules: rules, Keys: keys, Sessions: sessions, Members: st, Watch: watch,
		Replay: &dpop.ReplayCache{Window: c.DPoP.MaxAge}, Shared: sharedOnce(c, st), DPoPMaxAge: c.DPoP.MaxAge, MaxAge: c.CacheMaxAge, Approvals: approvals,
		OrdersPerMinute: c.Authz.OrdersPerMinute, Signals: signals, Networks: networks, Now: now}), nil
}

func newKeys(c *config.Config, st store.Store, now func() time.Time, log *slog.Logger) *authz.Keys {
	return authz.NewKeys(authz.KeysConfig{Store: st, Limits: c.Keys.Limits(), StepUpWindow: c.Factors.StepUpWindow,
		MaxAge: c.CacheMaxAge, DormantSweep: c.Keys.DormantSweep, Now: now, Log: log})
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// parseDuration reads a Go duration ("720h", "90m") or whole days ("30d").
func parseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 || n > 100*365 {
			return 0, fmt.Errorf("%q: want whole days, e.g. 30d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q: want a duration such as 720h or 30d", s)
	}
	return d, nil
}

// keyJSON is what --json prints: the key, and its secret when just made.
type keyJSON struct {
	ID              string     `json:"id"`
	Secret          string     `json:"secret,omitempty"`
	Account         string     `json:"account"`
	Name            string     `json:"name"`
	Environment     string     `json:"environment"`
	Scopes          []string   `json:"scopes"`
	AllowIPs        []string   `json:"allow_ips"`
	Status          string     `json:"status"`
	CreatedBy       string     `json:"created_by"`
	CreatedAt       time.Time  `json:"created_at"`
	ExpiresAt       time.Time  `json:"expires_at"`
	ExpiryShortened bool       `json:"expiry_shortened,omitempty"`
	LastUsedAt      *time.Time `json:"last_used_at,omitempty"`
	LastUsedIP      string     `json:"last_used_ip,omitempty"`
	PredecessorID   string     `json:"predecessor_id,omitempty"`
	SuccessorID     string     `json:"successor_id,omitempty"`
	OverlapEndsAt   *time.Time `json:"overlap_ends_at,omitempty"`
}

func toKeyJSON(k *apikey.Key, now time.Time) keyJSON {
	out := keyJSON{ID: k.ID, Account: k.AccountID, Name: k.Name, Environment: string(k.Environment), Scopes: k.Scopes.Names(),
		AllowIPs: []string{}, Status: authz.KeyStatus(k, now), CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt,
		PredecessorID: k.PredecessorID, SuccessorID: k.SuccessorID}
	for _, p := range k.AllowIPs {
		out.AllowIPs = append(out.AllowIPs, p.String())
	}
	if !k.LastUsedAt.IsZero() {
		t := k.LastUsedAt
		out.LastUsedAt, out.LastUsedIP = &t, k.LastUsedIP.String()
	}
	if !k.OverlapEndsAt.IsZero() {
		t := k.OverlapEndsAt
		out.OverlapEndsAt = &t
	}
	return out
}

// keyErr explains a key service error at the terminal.
func keyErr(err error, account, id string) error {
	var re *apikey.RequestError
	switch {
	case errors.As(err, &re):
		var b strings.Builder
		b.WriteString("the key request is invalid:")
		for _, p := range re.Problems {
			b.WriteString("\n  ")
			b.WriteString(cliField(p.Field))
			b.WriteString(": ")
			b.WriteString(p.Message)
		}
		return errors.New(b.String())
	case errors.Is(err, authz.ErrNoAccount):
		return fmt.Errorf("no account %q", account)
	case errors.Is(err, authz.ErrNoKey):
		return fmt.Errorf("no key %q", id)
	case errors.Is(err, authz.ErrKeyState):
		switch {
		case errors.Is(err, apikey.ErrRevoked):
			return fmt.Errorf("key %s is revoked already", id)
		case errors.Is(err, apikey.ErrRotated):
			return fmt.Errorf("key %s has been rotated already; rotate its successor", id)
		case errors.Is(err, apikey.ErrExpired):
			return fmt.Errorf("key %s has expired; create a new one", id)
		}
	}
	return err
}

// cliField names a request field as the flag that sets it.
func cliField(f string) string {
	base, idx, _ := strings.Cut(f, "[")
	flag := map[string]string{"name": "--name", "environment": "--environment", "scopes": "--scope", "allow_ips": "--allow-ip",
		"expires_in": "--expires", "overlap": "--overlap"}[base]
	if flag == "" {
		return f
	}
	if idx != "" {
		return flag + " #" + strings.TrimSuffix(idx, "]")
	}
	return flag
}

func printJSON(e *env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runKeyCreate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "key create", "key create --account ID --name N --environment paper|live --scope S … [--allow-ip CIDR …] [--expires DURATION] [--approval required] [--hold-on-new-network] [--json]")
	var sf storeFlags
	sf.register(fs)
	acct := fs.String("account", "", "the `account` the key acts on")
	name := fs.String("name", "", "the key's `name`, e.g. \"momentum bot on vm-3\"")
	environment := fs.String("environment", "", "paper or live: must be the account's")
	var scopes, allow listFlag
	fs.Var(&scopes, "scope", "a `scope` the key holds (repeat): account:read, marketdata:read, orders:read, orders:write, transfers:write")
	fs.Var(&allow, "allow-ip", "a `CIDR` or address the key may be used from (repeat); none allows any address")
	expires := fs.String("expires", "", "the key's life, e.g. 30d or 720h (default: the configured default, 90 days)")
	asJSON := fs.Bool("json", false, "print the key as JSON, its secret in \"secret\" and its identifier in \"id\"")
	approvalFlag := fs.String("approval", "", "required: every transfer of the key waits for the owner's approval (docs/approvals.md)")
	holdFlag := fs.Bool("hold-on-new-network", false, "a live trading key waits, on a network it has not been used from (its first excepted), for the owner's approval of that network")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *acct == "" || *name == "" || *environment == "" || len(scopes) == 0 {
		return usageError("key create needs --account, --name, --environment and at least one --scope")
	}
	req := apikey.Request{Name: *name, Environment: *environment, Scopes: scopes, AllowIPs: allow, Approval: *approvalFlag, HoldOnNewNetwork: *holdFlag}
	if *expires != "" {
		d, err := parseDuration(*expires)
		if err != nil {
			return usageError("--expires %v", err)
		}
		req.ExpiresIn = d
	}
	c, st, err := sf.open(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	iss, err := newKeys(c, st, nil, nil).Create(ctx, authz.Actor{}, *acct, req)
	if err != nil {
		return keyErr(err, *acct, "")
	}
	return printIssued(e, iss, *asJSON, fmt.Sprintf("key %s created", iss.Key.ID))
}

// printIssued shows a new key to the operator who made it: the one time
// its secret is shown.
func printIssued(e *env, iss *authz.Issued, asJSON bool, headline string) error {
	k := &iss.Key
	if asJSON {
		out := toKeyJSON(k, k.CreatedAt)
		out.Secret, out.ExpiryShortened = iss.Secret, iss.Shortened
		return printJSON(e, out)
	}
	fmt.Fprintf(e.stdout, "%s for account %s (%s; %s), expires %s\n", headline, k.AccountID, k.Environment, k.Scopes, k.ExpiresAt.Format(time.RFC3339))
	if iss.Shortened {
		fmt.Fprintln(e.stdout, "its life was shortened: a live key that can trade without an --allow-ip list lives at most the configured 30 days")
	}
	fmt.Fprintln(e.stdout, "the key is shown only this once; store it now:")
	fmt.Fprintln(e.stdout, iss.Secret)
	return nil
}

func runKeyList(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "key list", "key list --account ID [--json]")
	var sf storeFlags
	sf.register(fs)
	acct := fs.String("account", "", "the `account` whose keys to list")
	asJSON := fs.Bool("json", false, "print the keys as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *acct == "" {
		return usageError("key list needs --account")
	}
	c, st, err := sf.open(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := newKeys(c, st, nil, nil).List(ctx, authz.Actor{}, *acct)
	if err != nil {
		return keyErr(err, *acct, "")
	}
	now := time.Now()
	if *asJSON {
		out := []keyJSON{}
		for _, k := range keys {
			out = append(out, toKeyJSON(k, now))
		}
		return printJSON(e, out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tENV\tSCOPES\tSTATUS\tEXPIRES\tLAST USED\tFROM")
	for _, k := range keys {
		last, from := "never", "-"
		if !k.LastUsedAt.IsZero() {
			last, from = k.LastUsedAt.Format(time.RFC3339), k.LastUsedIP.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Environment, strings.ReplaceAll(k.Scopes.String(), " ", ","),
			authz.KeyStatus(k, now), k.ExpiresAt.Format(time.RFC3339), last, from)
	}
	return tw.Flush()
}

func runKeyRotate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "key rotate", "key rotate ID [--overlap DURATION] [--json]")
	var sf storeFlags
	sf.register(fs)
	overlapFlag := fs.String("overlap", "", "how long the old key keeps working, e.g. 1h (default and most: the configured 24h)")
	asJSON := fs.Bool("json", false, "print the successor as JSON, its secret in \"secret\" and its identifier in \"id\"")
	id, err := parseWithID(fs, args, "key rotate takes one key id")
	if err != nil {
		return err
	}
	var overlap *time.Duration
	if *overlapFlag != "" {
		d, err := parseDuration(*overlapFlag)
		if err != nil {
			return usageError("--overlap %v", err)
		}
		overlap = &d
	}
	c, st, err := sf.open(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	iss, err := newKeys(c, st, nil, nil).Rotate(ctx, authz.Actor{}, "", id, overlap)
	if err != nil {
		return keyErr(err, "", id)
	}
	if *asJSON {
		return printIssued(e, iss, true, "")
	}
	return printIssued(e, iss, false, fmt.Sprintf("key %s replaces %s, which keeps working until %s,", iss.Key.ID, id, iss.OverlapEndsAt.Format(time.RFC3339)))
}

func runKeyRevoke(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "key revoke", "key revoke ID")
	var sf storeFlags
	sf.register(fs)
	id, err := parseWithID(fs, args, "key revoke takes one key id")
	if err != nil {
		return err
	}
	c, st, err := sf.open(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := newKeys(c, st, nil, nil).Revoke(ctx, authz.Actor{}, "", id); err != nil {
		return keyErr(err, "", id)
	}
	fmt.Fprintf(e.stdout, "key %s revoked\n", id)
	return nil
}
