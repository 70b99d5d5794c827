package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/client"
)

// load is the client side: n connections running a mixed workload.
type load struct {
	ok, failed atomic.Int64
	wg         sync.WaitGroup
}

type loadStats struct{ ok, failed int64 }

// startLoad starts n connections that run until ctx ends: reads (70%),
// updates (15%), inserts (14%) and a DELETE (1%), which a rule holds until
// the approver approves it.
func startLoad(ctx context.Context, g *gateway, n int) *load {
	l := &load{}
	for i := range n {
		l.wg.Go(func() { l.conn(ctx, g, i) })
	}
	return l
}

func (l *load) conn(ctx context.Context, g *gateway, i int) {
	c, err := pgx.Connect(ctx, g.dsn())
	if err != nil {
		if ctx.Err() == nil {
			fmt.Fprintln(os.Stderr, "soak: connect:", err)
			l.failed.Add(1)
		}
		return
	}
	defer c.Close(context.Background())
	r := rand.New(rand.NewPCG(uint64(i), 42))
	for ctx.Err() == nil {
		var err error
		id := r.IntN(10000) + 1
		switch p := r.IntN(100); {
		case p < 70:
			var email string
			err = c.QueryRow(ctx, "select email from accounts where id = $1", id).Scan(&email)
		case p < 85:
			_, err = c.Exec(ctx, "update accounts set balance = balance + 1 where id = $1", id)
		case p < 99:
			_, err = c.Exec(ctx, "insert into events(account, note) values ($1, $2)", id, "soak note for user"+fmt.Sprint(id)+"@example.com")
		default:
			// Each held statement is its own (an approval runs one
			// statement once), so a comment makes it unique.
			_, err = c.Exec(ctx, fmt.Sprintf("delete from scratch /* connection %d, statement %d */", i, r.Uint64()))
		}
		switch {
		case err == nil:
			l.ok.Add(1)
		case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
			return // the run is over
		default:
			fmt.Fprintln(os.Stderr, "soak: statement:", err)
			l.failed.Add(1)
		}
	}
}

func (l *load) wait() loadStats {
	l.wg.Wait()
	return loadStats{l.ok.Load(), l.failed.Load()}
}

// approver approves every pending review, as an on-call script would.
type approver struct {
	approved atomic.Int64
	done     chan struct{}
}

func startApprover(ctx context.Context, g *gateway) *approver {
	a := &approver{done: make(chan struct{})}
	c, err := client.New(client.Options{Server: "http://" + g.httpAddr, Token: g.approver})
	if err != nil {
		panic(err)
	}
	go func() {
		defer close(a.done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			rvs, err := c.Reviews(ctx, "pending")
			if err != nil {
				continue
			}
			for _, rv := range rvs {
				if _, err := c.Decide(ctx, rv.ID, true, "soak: approved by the script"); err == nil {
					a.approved.Add(1)
				}
			}
		}
	}()
	return a
}

func (a *approver) wait() int64 {
	<-a.done
	return a.approved.Load()
}
