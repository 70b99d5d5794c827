package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
)

// SlackConfig configures the Slack notifier. The Slack app needs the bot
// scope chat:write, the bot must be a member of Channel, and the app's
// Interactivity Request URL must point at the gateway's /hooks/<Name>.
type SlackConfig struct {
	// Name is the notifier's name: the key of its reference in
	// Review.Tickets and the last element of its hook path. Default "slack".
	Name string
	// API is the Web API base URL. Default "https://slack.com/api".
	API string
	// BotToken is the bot user OAuth token (xoxb-...). Required.
	BotToken string
	// SigningSecret is the app's signing secret, which authenticates
	// interactivity requests. Required.
	SigningSecret string
	// Channel is the id of the channel reviews are posted to (C0123...).
	// Required.
	Channel string
	// TeamID, when set, is the only workspace whose button clicks are
	// accepted.
	TeamID string
	// Users maps Slack user ids (U0123...) to sluice subjects. A click by a
	// user not in it is refused with an explanation.
	Users map[string]string
	// DecideTimeout bounds the handling of one click: the decision and the
	// reply to the user. Default 10s.
	DecideTimeout time.Duration
	// HTTP tunes calls to Slack.
	HTTP HTTPOptions
	// Log receives what goes wrong with inbound clicks. Default: discarded.
	Log *slog.Logger
}

// Slack posts reviews to a channel with Approve and Deny buttons, turns
// clicks into decisions and updates the message with the outcome. It is
// safe for concurrent use. Close waits for clicks still being handled.
type Slack struct {
	name          string
	api           string
	token         string
	signingSecret []byte
	channel       string
	teamID        string
	users         map[string]string
	decideTimeout time.Duration
	log           *slog.Logger
	call          *caller
	now           func() time.Time

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

var (
	_ Notifier = (*Slack)(nil)
	_ Inbound  = (*Slack)(nil)
)

// NewSlack validates cfg and returns a Slack notifier that calls Slack
// with client (default settings when nil). It does no I/O.
func NewSlack(cfg SlackConfig, client *http.Client) (*Slack, error) {
	cfg.Name = orDefault(cfg.Name, "slack")
	cfg.API = strings.TrimRight(orDefault(cfg.API, "https://slack.com/api"), "/")
	if err := checkName(cfg.Name); err != nil {
		return nil, fmt.Errorf("slack notifier: %w", err)
	}
	fail := func(err error) (*Slack, error) { return nil, fmt.Errorf("slack notifier %s: %w", cfg.Name, err) }
	if err := checkEndpoint("api", cfg.API); err != nil {
		return fail(err)
	}
	switch {
	case cfg.BotToken == "":
		return fail(errors.New("bot token is required"))
	case cfg.SigningSecret == "":
		return fail(errors.New("signing secret is required"))
	case cfg.Channel == "":
		return fail(errors.New("channel is required"))
	case cfg.DecideTimeout < 0:
		return fail(errors.New("decide timeout must not be negative"))
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
	scrub := newScrubber(cfg.BotToken, cfg.SigningSecret)
	return &Slack{
		name:          cfg.Name,
		api:           cfg.API,
		token:         cfg.BotToken,
		signingSecret: []byte(cfg.SigningSecret),
		channel:       cfg.Channel,
		teamID:        cfg.TeamID,
		users:         cfg.Users,
		decideTimeout: cfg.DecideTimeout,
		log:           logOrDiscard(cfg.Log),
		call: &caller{
			service: "slack",
			client:  clientOrDefault(client),
			opts:    cfg.HTTP.withDefaults(),
			scrub:   scrub,
			detail:  slackDetail,
		},
		now: time.Now,
	}, nil
}

// Name returns the notifier's name.
func (s *Slack) Name() string { return s.name }

// Opened posts the review with its buttons and returns "channel:ts".
func (s *Slack) Opened(ctx context.Context, r *sluice.Review, links Links) (string, error) {
	if r == nil {
		return "", errors.New("slack: no review")
	}
	var out struct {
		Channel string `json:"channel"`
		TS      string `json:"ts"`
	}
	msg := map[string]any{
		"channel":      s.channel,
		"text":         slackFallback(r),
		"blocks":       slackBlocks(r, links),
		"unfurl_links": false,
		"unfurl_media": false,
	}
	if err := s.method(ctx, "chat.postMessage", msg, &out); err != nil {
		return "", err
	}
	if out.Channel == "" || out.TS == "" {
		return "", errors.New("slack chat.postMessage: answer lacks channel or ts")
	}
	return out.Channel + ":" + out.TS, nil
}

// Closed replaces the review's message with one that shows the outcome and
// has no buttons.
func (s *Slack) Closed(ctx context.Context, r *sluice.Review, ref string) error {
	if err := checkClosable(r); err != nil {
		return fmt.Errorf("slack: %w", err)
	}
	channel, ts, ok := strings.Cut(ref, ":")
	if !ok || channel == "" || ts == "" {
		return fmt.Errorf("slack: malformed reference %q", ref)
	}
	msg := map[string]any{
		"channel": channel,
		"ts":      ts,
		"text":    slackFallback(r),
		"blocks":  slackBlocks(r, Links{}),
	}
	return s.method(ctx, "chat.update", msg, nil)
}

// Close stops taking clicks and waits for those being handled. It is
// idempotent.
func (s *Slack) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// method calls one Web API method with a JSON body and decodes the answer
// into out (if not nil). An "ok": false answer is a *StatusError.
func (s *Slack) method(ctx context.Context, name string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("slack %s: encode: %w", name, err)
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+s.token)
	h.Set("Content-Type", "application/json; charset=utf-8")
	rep, err := s.call.do(ctx, call{op: name, method: http.MethodPost, url: s.api + "/" + name, header: h, body: b})
	if err != nil {
		return err
	}
	var env struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(rep.body, &env); err != nil {
		return fmt.Errorf("slack %s: answer is not JSON", name)
	}
	if !env.OK {
		return &StatusError{Service: "slack", Op: name, Status: rep.status,
			Detail: truncate(s.call.scrub.clean(orDefault(env.Error, "not ok")), maxDetail)}
	}
	if out != nil {
		if err := json.Unmarshal(rep.body, out); err != nil {
			return fmt.Errorf("slack %s: decode answer: %w", name, err)
		}
	}
	return nil
}

// slackDetail extracts Slack's error code from an error answer.
func slackDetail(body []byte) string {
	var env struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil {
		return env.Error
	}
	return ""
}
