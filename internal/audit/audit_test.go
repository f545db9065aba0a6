package audit_test

import (
	"errors"
	"iter"
	"testing"
	"time"

	"gatehouse/internal/audit"
)

func chain(n int) []*audit.Event {
	var out []*audit.Event
	var head *audit.Event
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range n {
		e := &audit.Event{Time: t0.Add(time.Duration(i) * time.Second), Type: audit.LoginSucceeded, UserID: "u1", Actor: "u1", Detail: map[string]string{"session": "s", "i": string(rune('a' + i))}}
		audit.Seal(head, e)
		out = append(out, e)
		head = e
	}
	return out
}

func seq(es []*audit.Event) iter.Seq2[*audit.Event, error] {
	return func(yield func(*audit.Event, error) bool) {
		for _, e := range es {
			if !yield(e, nil) {
				return
			}
		}
	}
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func([]*audit.Event) []*audit.Event
		wantSeq int64 // 0: intact
	}{
		{"OK", func(es []*audit.Event) []*audit.Event { return es }, 0},
		{"AlteredType", func(es []*audit.Event) []*audit.Event { es[2].Type = audit.LoginFailed; return es }, 3},
		{"AlteredDetail", func(es []*audit.Event) []*audit.Event { es[1].Detail["session"] = "x"; return es }, 2},
		{"AlteredTime", func(es []*audit.Event) []*audit.Event { es[3].Time = es[3].Time.Add(time.Second); return es }, 4},
		{"Removed", func(es []*audit.Event) []*audit.Event { return append(es[:2], es[3:]...) }, 3},
		{"RemovedLast", func(es []*audit.Event) []*audit.Event { return es[:4] }, 0},
		{"Rehashed", func(es []*audit.Event) []*audit.Event {
			// An attacker who rewrites one event and recomputes its own hash
			// still breaks the next link.
			es[1].Actor = "admin"
			es[1].Hash = audit.Sum(es[1].PrevHash, es[1])
			return es
		}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es := tt.tamper(chain(5))
			_, err := audit.Verify(seq(es))
			if tt.wantSeq == 0 {
				if err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
				return
			}
			var be *audit.BrokenError
			if !errors.As(err, &be) {
				t.Fatalf("Verify = %v, want *BrokenError", err)
			}
			if be.Seq != tt.wantSeq {
				t.Errorf("broken at %d, want %d (%v)", be.Seq, tt.wantSeq, err)
			}
		})
	}
}
