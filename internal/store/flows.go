package store

import (
	"context"

	"gatehouse/internal/session"
)

// Flows persists login and step-up flows between their requests.
type Flows interface {
	CreateFlow(ctx context.Context, f *session.Flow) error
	FlowByID(ctx context.Context, id string) (*session.Flow, error)
	// UpdateFlow stores f if the stored version is f.Version, and raises
	// f.Version; ErrConflict when another update came first.
	UpdateFlow(ctx context.Context, f *session.Flow) error
}
