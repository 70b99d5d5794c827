package sqlite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/store"
)

// The review steps of the cross-process test, each run by the parent and
// by every child at once (see TestMain for how a child is told which).
const (
	stepDecide = "decide"
	stepClaim  = "claim"
	stepExpire = "expire"
)

// Sizes of the cross-process review test.
const (
	heldReviews   = 20 // reviews that every process approves, then claims
	expiryGroups  = 4  // groups of reviews that fall due one after the other
	reviewsPerDue = 8  // reviews per expiry group
)

// reviewBase is the cross-process test's reference time.
var reviewBase = time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)

func heldID(i int) string       { return fmt.Sprintf("held-%02d", i) }
func dueID(group, i int) string { return fmt.Sprintf("due-%d-%02d", group, i) }

// groupDue is when the reviews of an expiry group stop being valid.
func groupDue(group int) time.Time { return reviewBase.Add(time.Duration(group+1) * time.Minute) }

// createReviewFixture stores the reviews the steps work on: held reviews
// that need two approvals, and groups of pending reviews due for expiry.
func createReviewFixture(ctx context.Context, st store.Store) error {
	mk := func(id string, valid time.Time) *sluice.Review {
		return &sluice.Review{
			ID: id, Status: sluice.ReviewPending,
			Request:      sluice.Request{Kind: sluice.KindSQL, Text: "DELETE FROM orders", Subject: "alice", Connection: "orders"},
			MinApprovals: 2, EstimatedRows: -1, StatementHash: "hash-" + id,
			CreatedAt: reviewBase, ValidUntil: valid,
		}
	}
	for i := range heldReviews {
		if err := st.CreateReview(ctx, mk(heldID(i), reviewBase.Add(time.Hour))); err != nil {
			return err
		}
	}
	for g := range expiryGroups {
		for i := range reviewsPerDue {
			if err := st.CreateReview(ctx, mk(dueID(g, i), groupDue(g))); err != nil {
				return err
			}
		}
	}
	return nil
}

// runReviewStep does one step of the cross-process review test as who and
// returns what happened, one line per review it changed:
//
//	decide: "decided ID STATUS" for each decision taken
//	claim:  "claimed ID" for each claim that won
//	expire: "expired ID" for each review this process expired
//
// Losing a race (ErrReviewClosed) is not an error; anything else is.
func runReviewStep(ctx context.Context, st store.Store, step, who string) ([]string, error) {
	var out []string
	switch step {
	case stepDecide:
		for i := range heldReviews {
			r, err := st.AddReviewDecision(ctx, heldID(i), sluice.ReviewDecision{
				By: who, Approve: true, Via: "cli", At: reviewBase.Add(10 * time.Minute),
			})
			switch {
			case errors.Is(err, store.ErrReviewClosed):
			case err != nil:
				return nil, fmt.Errorf("decide %s: %w", heldID(i), err)
			default:
				out = append(out, fmt.Sprintf("decided %s %s", r.ID, r.Status))
			}
		}
	case stepClaim:
		for i := range heldReviews {
			r, err := st.ClaimReview(ctx, heldID(i), reviewBase.Add(20*time.Minute))
			switch {
			case errors.Is(err, store.ErrReviewClosed):
			case err != nil:
				return nil, fmt.Errorf("claim %s: %w", heldID(i), err)
			default:
				out = append(out, "claimed "+r.ID)
			}
		}
	case stepExpire:
		for g := range expiryGroups {
			rs, err := st.ExpireReviews(ctx, groupDue(g))
			if err != nil {
				return nil, fmt.Errorf("expire group %d: %w", g, err)
			}
			for _, r := range rs {
				out = append(out, "expired "+r.ID)
			}
		}
	default:
		return nil, fmt.Errorf("unknown step %q", step)
	}
	return out, nil
}

// runReviewChild is a process of the cross-process review test: it opens
// the file, says "ready", waits for a line on stdin, runs its step, prints
// the step's lines and exits 0 on success.
func runReviewChild(path, step string) int {
	ctx := context.Background()
	d, err := Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	defer d.Close()
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Fprintln(os.Stderr, "wait for go:", err)
		return 1
	}
	lines, err := runReviewStep(ctx, d, step, os.Getenv(childPrefix))
	if err != nil {
		fmt.Fprintln(os.Stderr, step+":", err)
		return 1
	}
	for _, l := range lines {
		fmt.Println(l)
	}
	return 0
}

// runStepEverywhere runs step in children child processes and in this
// process (as "parent") at the same moment, and returns every line that
// each of them reported.
func runStepEverywhere(t *testing.T, d *DB, step string, children int) []string {
	t.Helper()
	type child struct {
		cmd    *exec.Cmd
		stdin  io.WriteCloser
		stderr strings.Builder
		ready  chan string // the first line of its stdout
		rest   chan string // the rest of its stdout
	}
	var kids []*child
	for i := range children {
		c := &child{cmd: exec.Command(os.Args[0], "-test.run=^$"), ready: make(chan string, 1), rest: make(chan string, 1)}
		c.cmd.Env = append(os.Environ(), childPath+"="+d.Path(), childStep+"="+step, childPrefix+"="+fmt.Sprintf("child%d", i))
		c.cmd.Stderr = &c.stderr
		stdout, err := c.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if c.stdin, err = c.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		if err := c.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
		kids = append(kids, c)
		go func() {
			r := bufio.NewReader(stdout)
			line, _ := r.ReadString('\n')
			c.ready <- line
			rest, _ := io.ReadAll(r)
			c.rest <- string(rest)
		}()
	}
	for i, c := range kids {
		if line := <-c.ready; line != "ready\n" {
			c.cmd.Wait()
			t.Fatalf("%s: child %d did not get ready: %q\n%s", step, i, line, c.stderr.String())
		}
	}
	for _, c := range kids {
		if _, err := io.WriteString(c.stdin, "go\n"); err != nil {
			t.Fatal(err)
		}
	}
	lines, err := runReviewStep(context.Background(), d, step, "parent")
	if err != nil {
		t.Errorf("%s: parent: %v", step, err)
	}
	for i, c := range kids {
		rest := <-c.rest
		if err := c.cmd.Wait(); err != nil {
			t.Fatalf("%s: child %d: %v\n%s", step, i, err, c.stderr.String())
		}
		if rest != "" {
			lines = append(lines, strings.Split(strings.TrimSuffix(rest, "\n"), "\n")...)
		}
	}
	slices.Sort(lines)
	return lines
}

func TestProcessesDecideReviews(t *testing.T) {
	// Processes sharing one file approve, claim and expire the same
	// reviews at the same time. The write lock makes each transition
	// atomic across them: two approvals per review, one of which approves
	// it; one claim per review; each due review expired by one process.
	ctx := context.Background()
	d := openTemp(t)
	if err := createReviewFixture(ctx, d); err != nil {
		t.Fatalf("create reviews: %v", err)
	}
	const children = 3

	decided := runStepEverywhere(t, d, stepDecide, children)
	var want []string
	for i := range heldReviews {
		want = append(want, "decided "+heldID(i)+" approved", "decided "+heldID(i)+" pending")
	}
	slices.Sort(want)
	if !slices.Equal(decided, want) {
		t.Errorf("decisions taken:\n got %q\nwant %q", decided, want)
	}
	for i := range heldReviews {
		r, err := d.GetReview(ctx, heldID(i))
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != sluice.ReviewApproved || len(r.Decisions) != 2 || r.Decisions[0].By == r.Decisions[1].By {
			t.Errorf("%s is %s with decisions %+v, want approved by two processes", r.ID, r.Status, r.Decisions)
		}
	}

	claimed := runStepEverywhere(t, d, stepClaim, children)
	want = nil
	for i := range heldReviews {
		want = append(want, "claimed "+heldID(i))
	}
	if !slices.Equal(claimed, want) {
		t.Errorf("claims won:\n got %q\nwant %q", claimed, want)
	}

	expired := runStepEverywhere(t, d, stepExpire, children)
	want = nil
	for g := range expiryGroups {
		for i := range reviewsPerDue {
			want = append(want, "expired "+dueID(g, i))
		}
	}
	slices.Sort(want)
	if !slices.Equal(expired, want) {
		t.Errorf("reviews expired:\n got %q\nwant %q", expired, want)
	}
	// The executed reviews were past no validity and stay executed.
	got, err := d.ListReviews(ctx, store.ReviewFilter{Statuses: []sluice.ReviewStatus{sluice.ReviewExecuted}, Limit: 1000})
	if err != nil || len(got) != heldReviews {
		t.Errorf("ListReviews(executed) = %d reviews, %v; want %d", len(got), err, heldReviews)
	}
}
