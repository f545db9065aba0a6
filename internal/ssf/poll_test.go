package ssf_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"testing/synctest"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/emit"
	"gatehouse/internal/secevent"
	"gatehouse/internal/ssf"
	"gatehouse/internal/store/storetest"
)

// TestLongPoll: a poll that may wait is held open until a token comes
// (then answered within a second), or answered empty at the long-poll
// bound; a receiver that leaves ends it at once.
func TestLongPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		pk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tr := &ssf.Transmitter{Issuer: "https://gh.example", Keys: []secevent.Key{{ID: "k", Private: pk}}, LongPoll: 20 * time.Second,
			Receivers: []*ssf.Receiver{{ID: "md", Audience: []string{"md"}, TokenHash: sha256.Sum256([]byte("t")), Events: secevent.Supported()}}}
		st := emit.Wrap(storetest.SQLite(t), tr)
		tr.Store = st
		r := tr.Receivers[0]

		start := time.Now()
		res, err := tr.Poll(ctx, r, ssf.PollRequest{})
		if err != nil || len(res.Sets) != 0 || time.Since(start) != 20*time.Second {
			t.Errorf("poll with nothing to take = %d SETs, %v after %v; want none after 20s", len(res.Sets), err, time.Since(start))
		}

		go func() {
			time.Sleep(5 * time.Second)
			st.AppendAudit(ctx, &audit.Event{Time: time.Now(), Type: audit.PasswordChanged, UserID: "usr_1", Actor: "usr_1"})
		}()
		start = time.Now()
		res, err = tr.Poll(ctx, r, ssf.PollRequest{})
		if waited := time.Since(start); err != nil || len(res.Sets) != 1 || waited < 5*time.Second || waited > 6*time.Second {
			t.Errorf("poll while a token comes at 5s = %d SETs, %v after %v; want 1 within a second of it", len(res.Sets), err, waited)
		}

		cctx, cancel := context.WithCancel(ctx)
		go func() { time.Sleep(3 * time.Second); cancel() }()
		zero := 0
		start = time.Now()
		if res, err := tr.Poll(cctx, r, ssf.PollRequest{Ack: keys(res.Sets)}); err != nil || len(res.Sets) != 0 || time.Since(start) != 3*time.Second {
			t.Errorf("poll left by its receiver = %d SETs, %v after %v; want none at 3s", len(res.Sets), err, time.Since(start))
		}
		if res, err := tr.Poll(ctx, r, ssf.PollRequest{MaxEvents: &zero}); err != nil || len(res.Sets) != 0 {
			t.Errorf("poll maxEvents 0 = %v, %v", res, err)
		}
	})
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
