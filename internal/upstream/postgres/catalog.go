package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Catalog names the tables behind result columns. PostgreSQL describes a
// column by its table's OID; masking rules name tables. Catalog looks the
// OIDs up on a connection of its own per target and caches the answers.
// Each lookup ends within Timeout, so a stalled network delays the results
// that need it by that long at most; callers then mask as if the table
// were any table (see mask.Engine.ColumnOfUnknownTable). It is safe for
// concurrent use.
type Catalog struct {
	targets Targets
	ttl     time.Duration
	// Timeout bounds one lookup, connecting included (DefaultCatalogTimeout
	// unless set before first use).
	Timeout time.Duration

	mu    sync.Mutex
	names map[catalogKey]catalogEntry
	conns map[string]*pgconn.PgConn
	locks map[string]*sync.Mutex // one lookup at a time per connection
}

type catalogKey struct {
	conn string
	oid  uint32
}

type catalogEntry struct {
	name string
	at   time.Time
}

// DefaultCatalogTimeout is a Catalog's Timeout unless set.
const DefaultCatalogTimeout = 5 * time.Second

// NewCatalog returns a catalog over targets; answers are kept for ttl.
func NewCatalog(targets Targets, ttl time.Duration) *Catalog {
	return &Catalog{targets: targets, ttl: ttl, Timeout: DefaultCatalogTimeout, names: map[catalogKey]catalogEntry{},
		conns: map[string]*pgconn.PgConn{}, locks: map[string]*sync.Mutex{}}
}

// TableName returns "schema.table" for a table OID of connection conn, or
// "" when the OID names no table (computed columns have OID 0).
func (c *Catalog) TableName(ctx context.Context, conn string, oid uint32) (string, error) {
	if oid == 0 {
		return "", nil
	}
	key := catalogKey{conn, oid}
	c.mu.Lock()
	if e, ok := c.names[key]; ok && time.Since(e.at) < c.ttl {
		c.mu.Unlock()
		return e.name, nil
	}
	lock := c.locks[conn]
	if lock == nil {
		lock = &sync.Mutex{}
		c.locks[conn] = lock
	}
	c.mu.Unlock()

	lock.Lock()
	defer lock.Unlock()
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	name, err := c.lookup(ctx, conn, oid)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	c.names[key] = catalogEntry{name: name, at: time.Now()}
	c.mu.Unlock()
	return name, nil
}

// lookup asks the catalog; the caller holds the connection's lock.
func (c *Catalog) lookup(ctx context.Context, conn string, oid uint32) (string, error) {
	c.mu.Lock()
	pc := c.conns[conn]
	c.mu.Unlock()
	if pc == nil || pc.IsClosed() {
		t, ok := c.targets[conn]
		if !ok {
			return "", fmt.Errorf("no upstream target for connection %q", conn)
		}
		cfg, err := config(t)
		if err != nil {
			return "", err
		}
		cfg.RuntimeParams["application_name"] = "sluice catalog"
		if pc, err = pgconn.ConnectConfig(ctx, cfg); err != nil {
			return "", fmt.Errorf("connect for catalog: %w", scrub(err, t.Password))
		}
		c.mu.Lock()
		c.conns[conn] = pc
		c.mu.Unlock()
	}
	res := pc.ExecParams(ctx, `SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::oid`,
		[][]byte{[]byte(fmt.Sprint(oid))}, nil, nil, nil).Read()
	if res.Err != nil {
		// A new lookup opens a new connection; this one may be stalled, so
		// its goodbye gets a second at most.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		pc.Close(cctx)
		cancel()
		return "", fmt.Errorf("look up table %d: %w", oid, res.Err)
	}
	if len(res.Rows) == 0 {
		return "", nil
	}
	return string(res.Rows[0][0]), nil
}

// Close closes the catalog's connections.
func (c *Catalog) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, pc := range c.conns {
		pc.Close(context.Background())
	}
	c.conns = map[string]*pgconn.PgConn{}
}
