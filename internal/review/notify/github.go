package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
)

// GitHubConfig configures the GitHub Issues notifier. The token needs
// write access to the repository's issues (a fine-grained token with
// "Issues: read and write", or a classic token with repo scope). The
// repository's webhook (content type application/json, with WebhookSecret)
// must send "Issue comments" and "Issues" events to /hooks/<Name>.
type GitHubConfig struct {
	// Name is the notifier's name: the key of its reference in
	// Review.Tickets and the last element of its hook path. Default
	// "github".
	Name string
	// API is the REST API base URL. Default "https://api.github.com"; for
	// GitHub Enterprise Server, "https://HOST/api/v3".
	API string
	// Repo is the repository issues are opened in, "owner/name". Required.
	Repo string
	// Token is the API token. Required.
	Token string
	// WebhookSecret is the secret of the repository webhook that delivers
	// decisions. Required.
	WebhookSecret string
	// Labels are put on every issue sluice opens.
	Labels []string
	// ApproveLabel and DenyLabel, added to an issue, decide its review.
	// Defaults "sluice:approve" and "sluice:deny".
	ApproveLabel string
	DenyLabel    string
	// Users maps GitHub logins (compared case-insensitively) to sluice
	// subjects. A decision by a login not in it is refused with a comment.
	Users map[string]string
	// DecideTimeout bounds the handling of one webhook delivery. Default
	// 10s; GitHub gives up on a delivery after 10s.
	DecideTimeout time.Duration
	// HTTP tunes calls to GitHub.
	HTTP HTTPOptions
	// Log receives what goes wrong with inbound deliveries. Default:
	// discarded.
	Log *slog.Logger
}

// GitHub opens an issue per review, takes decisions from comments and
// labels on it, and comments the outcome and closes it. It is safe for
// concurrent use.
type GitHub struct {
	name          string
	api           string
	repo          string // owner/name as configured
	repoPath      string // /repos/owner/name, escaped
	token         string
	secret        []byte
	labels        []string
	approveLabel  string
	denyLabel     string
	users         map[string]string // by lower-case login
	decideTimeout time.Duration
	log           *slog.Logger
	call          *caller
}

var (
	_ Notifier = (*GitHub)(nil)
	_ Inbound  = (*GitHub)(nil)
)

// NewGitHub validates cfg and returns a GitHub notifier that calls the API
// with client (default settings when nil). It does no I/O.
func NewGitHub(cfg GitHubConfig, client *http.Client) (*GitHub, error) {
	cfg.Name = orDefault(cfg.Name, "github")
	cfg.API = strings.TrimRight(orDefault(cfg.API, "https://api.github.com"), "/")
	cfg.ApproveLabel = orDefault(cfg.ApproveLabel, "sluice:approve")
	cfg.DenyLabel = orDefault(cfg.DenyLabel, "sluice:deny")
	if err := checkName(cfg.Name); err != nil {
		return nil, fmt.Errorf("github notifier: %w", err)
	}
	fail := func(err error) (*GitHub, error) { return nil, fmt.Errorf("github notifier %s: %w", cfg.Name, err) }
	if err := checkEndpoint("api", cfg.API); err != nil {
		return fail(err)
	}
	owner, repo, ok := strings.Cut(cfg.Repo, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return fail(errors.New(`repo must be "owner/name"`))
	}
	switch {
	case cfg.Token == "":
		return fail(errors.New("token is required"))
	case cfg.WebhookSecret == "":
		return fail(errors.New("webhook secret is required"))
	case strings.EqualFold(cfg.ApproveLabel, cfg.DenyLabel):
		return fail(errors.New("approve and deny labels must differ"))
	case cfg.DecideTimeout < 0:
		return fail(errors.New("decide timeout must not be negative"))
	}
	for _, l := range append([]string{cfg.ApproveLabel, cfg.DenyLabel}, cfg.Labels...) {
		if strings.TrimSpace(l) == "" || len(l) > 50 {
			return fail(errors.New("labels must be 1 to 50 characters"))
		}
	}
	if err := checkUsers(cfg.Users); err != nil {
		return fail(err)
	}
	if err := cfg.HTTP.validate(); err != nil {
		return fail(err)
	}
	users := make(map[string]string, len(cfg.Users))
	for login, subject := range cfg.Users {
		users[strings.ToLower(login)] = subject
	}
	if cfg.DecideTimeout == 0 {
		cfg.DecideTimeout = defaultDecideTimeout
	}
	return &GitHub{
		name:          cfg.Name,
		api:           cfg.API,
		repo:          cfg.Repo,
		repoPath:      "/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(repo),
		token:         cfg.Token,
		secret:        []byte(cfg.WebhookSecret),
		labels:        cfg.Labels,
		approveLabel:  cfg.ApproveLabel,
		denyLabel:     cfg.DenyLabel,
		users:         users,
		decideTimeout: cfg.DecideTimeout,
		log:           logOrDiscard(cfg.Log),
		call: &caller{
			service: "github",
			client:  clientOrDefault(client),
			opts:    cfg.HTTP.withDefaults(),
			scrub:   newScrubber(cfg.Token, cfg.WebhookSecret),
			detail:  githubDetail,
		},
	}, nil
}

// Name returns the notifier's name.
func (g *GitHub) Name() string { return g.name }

// Opened creates an issue for the review and returns its number.
func (g *GitHub) Opened(ctx context.Context, r *sluice.Review, links Links) (string, error) {
	if r == nil {
		return "", errors.New("github: no review")
	}
	issue := map[string]any{
		"title": title(r),
		"body":  githubIssueBody(r, links, g.approveLabel, g.denyLabel),
	}
	if len(g.labels) > 0 {
		issue["labels"] = g.labels
	}
	var out struct {
		Number int `json:"number"`
	}
	if err := g.do(ctx, "create issue", http.MethodPost, g.repoPath+"/issues", issue, &out); err != nil {
		return "", err
	}
	if out.Number <= 0 {
		return "", errors.New("github create issue: answer lacks the issue number")
	}
	return strconv.Itoa(out.Number), nil
}

// Closed comments the outcome on the issue and closes it, as completed when
// the review was approved and as not planned otherwise.
func (g *GitHub) Closed(ctx context.Context, r *sluice.Review, ref string) error {
	if err := checkClosable(r); err != nil {
		return fmt.Errorf("github: %w", err)
	}
	n, err := strconv.Atoi(ref)
	if err != nil || n <= 0 {
		return fmt.Errorf("github: malformed reference %q", ref)
	}
	if err := g.comment(ctx, n, githubOutcome(r)); err != nil {
		return err
	}
	reason := "not_planned"
	if r.Status == sluice.ReviewApproved || r.Status == sluice.ReviewExecuted {
		reason = "completed"
	}
	return g.do(ctx, "close issue", http.MethodPatch, g.issuePath(n),
		map[string]any{"state": "closed", "state_reason": reason}, nil)
}

func (g *GitHub) issuePath(n int) string { return g.repoPath + "/issues/" + strconv.Itoa(n) }

// comment adds a comment to issue n.
func (g *GitHub) comment(ctx context.Context, n int, body string) error {
	return g.do(ctx, "comment on issue", http.MethodPost, g.issuePath(n)+"/comments", map[string]any{"body": body}, nil)
}

// do calls the REST API with a JSON body and decodes the answer into out
// (if not nil).
func (g *GitHub) do(ctx context.Context, op, method, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("github %s: encode: %w", op, err)
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+g.token)
	h.Set("Accept", "application/vnd.github+json")
	h.Set("X-GitHub-Api-Version", "2022-11-28")
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "sluice-notify")
	rep, err := g.call.do(ctx, call{op: op, method: method, url: g.api + path, header: h, body: b})
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(rep.body, out); err != nil {
			return fmt.Errorf("github %s: decode answer: %w", op, err)
		}
	}
	return nil
}

// githubDetail extracts GitHub's message from an error answer.
func githubDetail(body []byte) string {
	var env struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &env) == nil {
		return env.Message
	}
	return ""
}
