package store

import (
	"context"

	"gatehouse/internal/flow"
)

// Flows persists login and step-up flows between their requests.
type Flows interface {
	CreateFlow(ctx context.Context, f *flow.Flow) error
	FlowByID(ctx context.Context, id string) (*flow.Flow, error)
	// UpdateFlow stores f if the stored version is f.Version, and raises
	// f.Version; ErrConflict when another update came first.
	UpdateFlow(ctx context.Context, f *flow.Flow) error
}
