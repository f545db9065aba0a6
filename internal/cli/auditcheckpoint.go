package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"gatehouse/internal/checkpoint"
	"gatehouse/internal/config"
	"gatehouse/internal/secevent"
	"gatehouse/internal/store"
)

// checkpointKeys are the keys that sign and check audit checkpoints: the
// configured Shared Signals keys (the first signs; every one verifies, so
// an old key kept listed after a rotation still checks what it signed).
// Never an ephemeral key: a checkpoint must verify after a restart.
func checkpointKeys(c *config.Config) ([]secevent.Key, error) {
	keys, err := configuredSigningKeys(c)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("audit checkpoints are signed with the first of ssf.signing_keys: set one (openssl ecparam -name prime256v1 -genkey -noout -out ssf.pem)")
	}
	return keys, nil
}

// checkpointer writes signed checkpoints of the audit chain's head.
type checkpointer struct {
	st     store.Audit
	key    secevent.Key
	issuer string
	now    func() time.Time
	to     config.Checkpoints // where Run writes
	client *http.Client       // for to.Webhook
	log    *slog.Logger
}

// line reads the chain's head and returns its checkpoint, signed.
func (c *checkpointer) line(ctx context.Context) ([]byte, checkpoint.Checkpoint, error) {
	head, err := c.st.AuditHead(ctx)
	if errors.Is(err, store.ErrNotFound) {
		head, err = nil, nil
	}
	if err != nil {
		return nil, checkpoint.Checkpoint{}, fmt.Errorf("read the audit chain's head: %w", err)
	}
	cp := checkpoint.Head(head, c.issuer, c.now())
	l, err := checkpoint.Sign(cp, c.key)
	return l, cp, err
}

// appendLine appends line and a newline to the file at path, made
// readable by its owner only when new.
func appendLine(path string, line []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return err
	}
	// A checkpoint that is not on disk proves nothing.
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// write writes one checkpoint to every configured destination; it
// returns the first failure, having tried them all.
func (c *checkpointer) write(ctx context.Context) error {
	line, cp, err := c.line(ctx)
	if err != nil {
		return err
	}
	var errs []error
	if c.to.File != "" {
		if err := appendLine(c.to.File, line); err != nil {
			errs = append(errs, fmt.Errorf("audit checkpoint to %s: %w", c.to.File, err))
		}
	}
	if c.to.Webhook != "" {
		if err := c.post(ctx, line); err != nil {
			errs = append(errs, fmt.Errorf("audit checkpoint to the webhook: %w", err))
		}
	}
	if c.to.Log {
		c.log.Info("audit checkpoint", "seq", cp.Seq, "hash", cp.Hash, "line", string(line))
	}
	return errors.Join(errs...)
}

func (c *checkpointer) post(ctx context.Context, line []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", c.to.Webhook, bytes.NewReader(line))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	client := c.client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s", c.to.Webhook, resp.Status)
	}
	return nil
}

// Run writes a checkpoint at start and then every c.to.Every until ctx
// ends. With several instances each writes its own: they agree on the
// chain, and one instance's checkpoints suffice to check it.
func (c *checkpointer) Run(ctx context.Context) {
	t := time.NewTicker(c.to.Every)
	defer t.Stop()
	for {
		if err := c.write(ctx); err != nil && ctx.Err() == nil {
			c.log.Error("audit checkpoint", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func runAuditCheckpoint(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "audit checkpoint", "audit checkpoint [--to FILE]")
	var sf storeFlags
	sf.register(fs)
	to := fs.String("to", "", "append the checkpoint to this `file` (default: print it)")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, st, err := sf.open(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := checkpointKeys(c)
	if err != nil {
		return err
	}
	cp := &checkpointer{st: st, key: keys[0], issuer: checkpointIssuer(c), now: time.Now}
	line, head, err := cp.line(ctx)
	if err != nil {
		return err
	}
	if *to == "" {
		fmt.Fprintf(e.stdout, "%s\n", line)
		return nil
	}
	if err := appendLine(*to, line); err != nil {
		return fmt.Errorf("write the checkpoint: %w", err)
	}
	fmt.Fprintf(e.stdout, "checkpoint of event %d appended to %s\n", head.Seq, *to)
	return nil
}

// checkpointIssuer is the iss of checkpoints: the SSF issuer, as the
// keys that sign them are the SSF keys.
func checkpointIssuer(c *config.Config) string {
	if c.SSF.Issuer != "" {
		return c.SSF.Issuer
	}
	return c.PublicOrigin
}
