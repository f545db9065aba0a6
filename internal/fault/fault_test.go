package fault_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"gatehouse/internal/fault"
)

func TestOf(t *testing.T) {
	errNoFlow := fault.New(fault.NoFlow, "login: no flow")
	tests := []struct {
		name string
		err  error
		want fault.Kind
	}{
		{"Nil", nil, fault.Internal},
		{"Unkinded", errors.New("boom"), fault.Internal},
		{"Sentinel", errNoFlow, fault.NoFlow},
		{"Wrapped", fmt.Errorf("answer: %w", errNoFlow), fault.NoFlow},
		{"Wrap", fault.Wrap(fault.Unavailable, errors.New("database is locked")), fault.Unavailable},
		{"OuterKindWins", fault.Wrap(fault.Unavailable, errNoFlow), fault.Unavailable},
		// A store call cut short by the client's leaving is not an outage.
		{"CanceledUnderUnavailable", fault.Wrap(fault.Unavailable, fmt.Errorf("read: %w", context.Canceled)), fault.Canceled},
		{"Field", fault.NewField("name", "1 to 64 characters", "bad name"), fault.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fault.Of(tt.err); got != tt.want {
				t.Errorf("Of(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestWrapKeepsTheCause(t *testing.T) {
	cause := errors.New("disk I/O error")
	err := fault.Wrap(fault.Unavailable, cause)
	if !errors.Is(err, cause) || err.Error() != cause.Error() {
		t.Errorf("Wrap = %v, want %v underneath", err, cause)
	}
	if fault.Wrap(fault.Unavailable, nil) != nil {
		t.Error("Wrap(Unavailable, nil) != nil")
	}
}

func TestFields(t *testing.T) {
	err := fmt.Errorf("enrol: %w", fault.NewField("phone", "an E.164 number", "bad phone"))
	got := fault.Fields(err)
	if len(got) != 1 || got[0] != (fault.Field{Name: "phone", Want: "an E.164 number"}) {
		t.Errorf("Fields(%v) = %v, want phone", err, got)
	}
}

func TestEveryKindHasAName(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range fault.Kinds() {
		n := k.String()
		if n == "" || seen[n] {
			t.Errorf("kind %d is named %q, empty or taken", k, n)
		}
		seen[n] = true
	}
}
