package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/review"
	"github.com/sluicehq/sluice/internal/review/notify"
)

// notifiers builds the configured notifiers.
func notifiers(cfg *config.Config, log *slog.Logger) ([]notify.Notifier, error) {
	client := &http.Client{Timeout: time.Minute}
	var out []notify.Notifier
	for i, n := range cfg.Reviews.Notify {
		name := n.Name
		if name == "" {
			name = n.Type
		}
		nlog := log.With("notifier", name)
		var nt notify.Notifier
		var err error
		switch n.Type {
		case "webhook":
			nt, err = notify.NewWebhook(notify.WebhookConfig{Name: name, URL: n.URL, Secret: n.Secret.Value()}, client)
		case "slack":
			nt, err = notify.NewSlack(notify.SlackConfig{Name: name, API: n.API, BotToken: n.Token.Value(),
				SigningSecret: n.Secret.Value(), Channel: n.Channel, TeamID: n.TeamID, Users: n.Users, Log: nlog}, client)
		case "github":
			nt, err = notify.NewGitHub(notify.GitHubConfig{Name: name, API: n.API, Repo: n.Repo, Token: n.Token.Value(),
				WebhookSecret: n.Secret.Value(), Labels: n.Labels, ApproveLabel: n.ApproveLabel, DenyLabel: n.DenyLabel,
				Users: n.Users, Log: nlog}, client)
		case "jira":
			nt, err = notify.NewJira(notify.JiraConfig{Name: name, URL: n.URL, Email: n.Email, APIToken: n.Token.Value(),
				Project: n.Project, IssueType: n.IssueType, Labels: n.Labels, WebhookSecret: n.Secret.Value(),
				ApproveStatus: n.ApproveStatus, DenyStatus: n.DenyStatus, DoneTransition: n.DoneTransition,
				Users: n.Users, Log: nlog}, client)
		default:
			err = fmt.Errorf("unknown type %q", n.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("reviews.notify[%d] (%s): %w", i, name, err)
		}
		out = append(out, nt)
	}
	return out, nil
}

// mountHooks serves the notifiers that take decisions from outside at
// /hooks/<name>; they check their senders' signatures themselves.
func mountHooks(mux *http.ServeMux, ns []notify.Notifier, svc *review.Service) {
	for _, n := range ns {
		if in, ok := n.(notify.Inbound); ok {
			mux.Handle("POST /hooks/"+n.Name(), in.Handler(review.Decider{Service: svc}))
		}
	}
}
