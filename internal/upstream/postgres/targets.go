package postgres

import (
	"context"
	"fmt"
)

// Targets maps connection names to upstream servers. It implements the
// pgwire listener's Dialer and is safe for concurrent use (read only).
type Targets map[string]Target

// Dial connects to the named connection's server.
func (ts Targets) Dial(ctx context.Context, name string, params map[string]string) (*Conn, error) {
	t, ok := ts[name]
	if !ok {
		return nil, fmt.Errorf("no upstream target for connection %q", name)
	}
	return Dial(ctx, t, params)
}
