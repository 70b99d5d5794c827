package notify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
)

// JiraConfig configures the Jira Cloud notifier (REST API v3). The account
// behind Email and APIToken needs permission to create issues in Project,
// comment on them and, with DoneTransition, transition them. A Jira
// webhook (Settings > System > WebHooks) with WebhookSecret must send
// "comment_created" and "jira:issue_updated" events to /hooks/<Name>;
// restrict it with the JQL "project = <Project>".
type JiraConfig struct {
	// Name is the notifier's name: the key of its reference in
	// Review.Tickets and the last element of its hook path. Default "jira".
	Name string
	// URL is the site's base URL, e.g. "https://your-domain.atlassian.net".
	// Required.
	URL string
	// Email and APIToken authenticate API calls (HTTP Basic). Required.
	Email    string
	APIToken string
	// Project is the key of the project issues are created in. Required.
	Project string
	// IssueType is the name of the issue type created. Default "Task".
	IssueType string
	// Labels are put on every issue sluice creates (no spaces).
	Labels []string
	// WebhookSecret is the secret of the Jira webhook that delivers
	// decisions. Required.
	WebhookSecret string
	// ApproveStatus and DenyStatus, when set, are the statuses that decide
	// a review when an issue is moved to them (compared case-insensitively).
	ApproveStatus string
	DenyStatus    string
	// DoneTransition, when set, is the name of the transition Closed
	// performs after commenting the outcome. Its target status must be
	// neither ApproveStatus nor DenyStatus.
	DoneTransition string
	// Users maps Jira account ids to sluice subjects. A decision by an
	// account not in it is refused with a comment.
	Users map[string]string
	// DecideTimeout bounds the handling of one webhook delivery. Default
	// 10s.
	DecideTimeout time.Duration
	// HTTP tunes calls to Jira.
	HTTP HTTPOptions
	// Log receives what goes wrong with inbound deliveries. Default:
	// discarded.
	Log *slog.Logger
}

var (
	jiraProjectKey = regexp.MustCompile(`^[A-Z][A-Z0-9_]{1,254}$`)
	jiraIssueKey   = regexp.MustCompile(`^[A-Z][A-Z0-9_]{1,254}-[1-9][0-9]{0,17}$`)
)

// Jira creates an issue per review, takes decisions from comments and
// status changes on it, and comments the outcome (and optionally
// transitions it). It is safe for concurrent use.
type Jira struct {
	name           string
	base           string
	auth           string // "Basic ..."
	secret         []byte
	project        string
	issueType      string
	labels         []string
	approveStatus  string
	denyStatus     string
	doneTransition string
	users          map[string]string
	decideTimeout  time.Duration
	log            *slog.Logger
	call           *caller
}

var (
	_ Notifier = (*Jira)(nil)
	_ Inbound  = (*Jira)(nil)
)

// NewJira validates cfg and returns a Jira notifier that calls Jira with
// client (default settings when nil). It does no I/O.
func NewJira(cfg JiraConfig, client *http.Client) (*Jira, error) {
	cfg.Name = orDefault(cfg.Name, "jira")
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	cfg.IssueType = orDefault(cfg.IssueType, "Task")
	if err := checkName(cfg.Name); err != nil {
		return nil, fmt.Errorf("jira notifier: %w", err)
	}
	fail := func(err error) (*Jira, error) { return nil, fmt.Errorf("jira notifier %s: %w", cfg.Name, err) }
	if err := checkEndpoint("url", cfg.URL); err != nil {
		return fail(err)
	}
	switch {
	case cfg.Email == "" || cfg.APIToken == "":
		return fail(errors.New("email and api token are required"))
	case cfg.WebhookSecret == "":
		return fail(errors.New("webhook secret is required"))
	case !jiraProjectKey.MatchString(cfg.Project):
		return fail(errors.New("project must be a project key such as OPS"))
	case cfg.ApproveStatus != "" && strings.EqualFold(cfg.ApproveStatus, cfg.DenyStatus):
		return fail(errors.New("approve and deny statuses must differ"))
	case cfg.DecideTimeout < 0:
		return fail(errors.New("decide timeout must not be negative"))
	}
	for _, l := range cfg.Labels {
		if l == "" || len(l) > 255 || strings.ContainsFunc(l, func(r rune) bool { return r == ' ' || r < 0x20 }) {
			return fail(errors.New("labels must be 1 to 255 characters without spaces"))
		}
	}
	if err := checkUsers(cfg.Users); err != nil {
		return fail(err)
	}
	if err := cfg.HTTP.validate(); err != nil {
		return fail(err)
	}
	if cfg.DecideTimeout == 0 {
		cfg.DecideTimeout = defaultDecideTimeout
	}
	cred := base64.StdEncoding.EncodeToString([]byte(cfg.Email + ":" + cfg.APIToken))
	return &Jira{
		name:           cfg.Name,
		base:           cfg.URL,
		auth:           "Basic " + cred,
		secret:         []byte(cfg.WebhookSecret),
		project:        cfg.Project,
		issueType:      cfg.IssueType,
		labels:         cfg.Labels,
		approveStatus:  cfg.ApproveStatus,
		denyStatus:     cfg.DenyStatus,
		doneTransition: cfg.DoneTransition,
		users:          cfg.Users,
		decideTimeout:  cfg.DecideTimeout,
		log:            logOrDiscard(cfg.Log),
		call: &caller{
			service: "jira",
			client:  clientOrDefault(client),
			opts:    cfg.HTTP.withDefaults(),
			scrub:   newScrubber(cfg.APIToken, cfg.WebhookSecret, cred, cfg.Email+":"+cfg.APIToken),
			detail:  jiraDetail,
		},
	}, nil
}

// Name returns the notifier's name.
func (j *Jira) Name() string { return j.name }

// Opened creates an issue for the review and returns its key.
func (j *Jira) Opened(ctx context.Context, r *sluice.Review, links Links) (string, error) {
	if r == nil {
		return "", errors.New("jira: no review")
	}
	fields := map[string]any{
		"project":     map[string]string{"key": j.project},
		"issuetype":   map[string]string{"name": j.issueType},
		"summary":     title(r),
		"description": jiraDescription(r, links, j.approveStatus, j.denyStatus),
	}
	if len(j.labels) > 0 {
		fields["labels"] = j.labels
	}
	var out struct {
		Key string `json:"key"`
	}
	if err := j.do(ctx, "create issue", http.MethodPost, "/rest/api/3/issue", map[string]any{"fields": fields}, &out); err != nil {
		return "", err
	}
	if !jiraIssueKey.MatchString(out.Key) {
		return "", errors.New("jira create issue: answer lacks a valid issue key")
	}
	return out.Key, nil
}

// Closed comments the outcome on the issue and, with DoneTransition set,
// transitions it.
func (j *Jira) Closed(ctx context.Context, r *sluice.Review, ref string) error {
	if err := checkClosable(r); err != nil {
		return fmt.Errorf("jira: %w", err)
	}
	if !jiraIssueKey.MatchString(ref) {
		return fmt.Errorf("jira: malformed reference %q", ref)
	}
	if err := j.comment(ctx, ref, jiraOutcome(r)); err != nil {
		return err
	}
	if j.doneTransition == "" {
		return nil
	}
	return j.transition(ctx, ref, j.doneTransition)
}

// transition performs the transition called name on issue key, looking its
// id up first.
func (j *Jira) transition(ctx context.Context, key, name string) error {
	var list struct {
		Transitions []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			To   struct {
				Name string `json:"name"`
			} `json:"to"`
		} `json:"transitions"`
	}
	path := "/rest/api/3/issue/" + url.PathEscape(key) + "/transitions"
	if err := j.do(ctx, "list transitions", http.MethodGet, path, nil, &list); err != nil {
		return err
	}
	for _, t := range list.Transitions {
		if !strings.EqualFold(t.Name, name) {
			continue
		}
		if j.decides(t.To.Name) {
			return fmt.Errorf("jira: transition %q leads to status %q, which decides reviews; refusing to use it", name, t.To.Name)
		}
		return j.do(ctx, "transition issue", http.MethodPost, path, map[string]any{"transition": map[string]string{"id": t.ID}}, nil)
	}
	return fmt.Errorf("jira: transition %q is not available for %s", name, key)
}

// decides reports whether moving an issue to status decides its review.
func (j *Jira) decides(status string) bool {
	return status != "" && (strings.EqualFold(status, j.approveStatus) || strings.EqualFold(status, j.denyStatus))
}

// comment adds an ADF comment to issue key.
func (j *Jira) comment(ctx context.Context, key string, body adfNode) error {
	return j.do(ctx, "comment on issue", http.MethodPost, "/rest/api/3/issue/"+url.PathEscape(key)+"/comment",
		map[string]any{"body": body}, nil)
}

// do calls the REST API with a JSON body (none when nil) and decodes the
// answer into out (if not nil).
func (j *Jira) do(ctx context.Context, op, method, path string, body, out any) error {
	h := http.Header{}
	h.Set("Authorization", j.auth)
	h.Set("Accept", "application/json")
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return fmt.Errorf("jira %s: encode: %w", op, err)
		}
		h.Set("Content-Type", "application/json")
	}
	rep, err := j.call.do(ctx, call{op: op, method: method, url: j.base + path, header: h, body: b})
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(rep.body, out); err != nil {
			return fmt.Errorf("jira %s: decode answer: %w", op, err)
		}
	}
	return nil
}

// jiraDetail extracts Jira's messages from an error answer.
func jiraDetail(body []byte) string {
	var env struct {
		ErrorMessages []string          `json:"errorMessages"`
		Errors        map[string]string `json:"errors"`
	}
	if json.Unmarshal(body, &env) != nil {
		return ""
	}
	msgs := env.ErrorMessages
	for _, k := range slices.Sorted(maps.Keys(env.Errors)) {
		msgs = append(msgs, k+": "+env.Errors[k])
	}
	return strings.Join(msgs, "; ")
}
