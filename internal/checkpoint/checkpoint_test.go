package checkpoint_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"iter"
	"testing"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/checkpoint"
	"gatehouse/internal/secevent"
)

var t0 = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

func chain(n int, typ string) []*audit.Event {
	var out []*audit.Event
	var head *audit.Event
	for i := range n {
		e := &audit.Event{Time: t0.Add(time.Duration(i) * time.Second), Type: typ}
		audit.Seal(head, e)
		out, head = append(out, e), e
	}
	return out
}

func walk(es []*audit.Event) iter.Seq2[*audit.Event, error] {
	return func(yield func(*audit.Event, error) bool) {
		for _, e := range es {
			if !yield(e, nil) {
				return
			}
		}
	}
}

func key(t *testing.T) secevent.Key {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return secevent.Key{ID: "k1", Private: k}
}

func TestVerify(t *testing.T) {
	k := key(t)
	es := chain(5, "login.succeeded")
	line, err := checkpoint.Sign(checkpoint.Head(es[3], "https://gh.example", t0), k)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := checkpoint.Parse(line, []secevent.Key{k})
	if err != nil || cp.Seq != 4 {
		t.Fatalf("Parse = %+v, %v; want seq 4", cp, err)
	}
	rewritten := append(chain(2, "login.succeeded"), chain(5, "user.created")[2:]...)
	// Reseal from event 3 on so the rewritten chain holds by itself.
	for i := 2; i < len(rewritten); i++ {
		audit.Seal(rewritten[i-1], rewritten[i])
	}
	for _, tt := range []struct {
		name   string
		events []*audit.Event
		want   error
	}{
		{"OK", es, nil},
		{"OKAtTheHead", es[:4], nil},
		{"ErrTruncated", es[:3], checkpoint.ErrTruncated},
		{"ErrRewritten", rewritten, checkpoint.ErrRewritten},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := audit.Verify(walk(tt.events)); err != nil {
				t.Fatalf("the chain alone does not hold: %v", err)
			}
			if _, err := checkpoint.Verify(walk(tt.events), []checkpoint.Checkpoint{cp}); !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	k, other := key(t), key(t)
	line, _ := checkpoint.Sign(checkpoint.Head(nil, "https://gh.example", t0), k)
	if _, err := checkpoint.Parse(line, []secevent.Key{other}); !errors.Is(err, checkpoint.ErrSignature) {
		t.Errorf("Parse with another key of the same id = %v, want ErrSignature", err)
	}
	if _, err := checkpoint.Parse([]byte(`{"seq":1}`), []secevent.Key{k}); !errors.Is(err, checkpoint.ErrSignature) {
		t.Errorf("Parse of an unsigned line = %v, want ErrSignature", err)
	}
}
