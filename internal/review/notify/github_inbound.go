package notify

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// githubEvent is the part of an issues or issue_comment delivery that
// sluice reads.
type githubEvent struct {
	Action string `json:"action"`
	Issue  *struct {
		Number      int             `json:"number"`
		Body        string          `json:"body"`
		PullRequest json.RawMessage `json:"pull_request"`
	} `json:"issue"`
	Comment *struct {
		Body string     `json:"body"`
		User githubUser `json:"user"`
	} `json:"comment"`
	Label *struct {
		Name string `json:"name"`
	} `json:"label"`
	Sender     githubUser `json:"sender"`
	Repository struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
}

type githubUser struct {
	Login string `json:"login"`
}

// Handler returns the handler of the repository webhook, to be mounted at
// /hooks/<name>. It checks X-Hub-Signature-256, then takes a decision from
// an "issue_comment" (created) whose first line is /approve or /deny, or
// from an "issues" event labelling the issue with the approve or deny
// label, on an issue sluice opened in the configured repository. Other
// deliveries are answered 204. The decision, or the reason there was none,
// is commented on the issue.
func (g *GitHub) Handler(d Decider) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := readHookBody(w, r)
		if !ok {
			return
		}
		if err := checkHMAC(g.secret, r.Header.Get("X-Hub-Signature-256"), "sha256=", body); err != nil {
			g.log.Warn("github delivery refused", "notifier", g.name, "err", err)
			answer(w, http.StatusUnauthorized, "invalid signature")
			return
		}
		kind := r.Header.Get("X-GitHub-Event")
		if kind != "issue_comment" && kind != "issues" {
			w.WriteHeader(http.StatusNoContent) // ping and everything else
			return
		}
		ev, err := parseGitHubEvent(r.Header.Get("Content-Type"), body)
		if err != nil {
			answer(w, http.StatusBadRequest, "malformed payload")
			return
		}
		v, login, n, ok := g.vote(kind, ev)
		if !ok {
			answer(w, http.StatusNoContent, "")
			return
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), g.decideTimeout)
		defer cancel()
		status, msg := g.decide(ctx, d, v, login, n)
		answer(w, status, msg)
	})
}

func parseGitHubEvent(contentType string, body []byte) (*githubEvent, error) {
	if strings.HasPrefix(contentType, "application/x-www-form-urlencoded") {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, err
		}
		body = []byte(form.Get("payload"))
	}
	var ev githubEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, err
	}
	return &ev, nil
}

// vote finds a decision in a delivery: its review, the acting login and the
// issue number. ok is false for anything that is not a decision on an issue
// sluice opened in its repository.
func (g *GitHub) vote(kind string, ev *githubEvent) (v vote, login string, n int, ok bool) {
	if ev.Issue == nil || (len(ev.Issue.PullRequest) > 0 && string(ev.Issue.PullRequest) != "null") ||
		!strings.EqualFold(ev.Repository.FullName, g.repo) {
		return vote{}, "", 0, false
	}
	id, ok := reviewFromIssueBody(ev.Issue.Body)
	if !ok {
		return vote{}, "", 0, false
	}
	v = vote{reviewID: id, via: "github"}
	switch {
	case kind == "issue_comment" && ev.Action == "created" && ev.Comment != nil:
		approve, reason, isCmd := parseCommand(ev.Comment.Body)
		if !isCmd {
			return vote{}, "", 0, false
		}
		login = ev.Comment.User.Login
		v.approve, v.reason = approve, reason
		if v.reason == "" {
			v.reason = v.verb() + " on GitHub by " + line(login)
		}
	case kind == "issues" && ev.Action == "labeled" && ev.Label != nil:
		switch {
		case strings.EqualFold(ev.Label.Name, g.approveLabel):
			v.approve = true
		case strings.EqualFold(ev.Label.Name, g.denyLabel):
		default:
			return vote{}, "", 0, false
		}
		login = ev.Sender.Login
		v.reason = v.verb() + " on GitHub by " + line(login) + " (label " + line(ev.Label.Name) + ")"
	default:
		return vote{}, "", 0, false
	}
	if login == "" {
		return vote{}, "", 0, false
	}
	return v, login, ev.Issue.Number, true
}

// decide maps the login, casts the vote and comments the result on the
// issue. It returns the status and text to answer the delivery with.
func (g *GitHub) decide(ctx context.Context, d Decider, v vote, login string, n int) (int, string) {
	log := g.log.With("notifier", g.name, "review", v.reviewID, "issue", n, "github_user", login)
	mention := "@" + line(login)
	subject, ok := g.users[strings.ToLower(login)]
	if !ok {
		log.Info("github decision by an unmapped user")
		g.reply(ctx, log, n, "⚠️ "+mention+", your GitHub account is not mapped to a sluice approver, so no decision was "+
			"recorded on review "+mdCode(v.reviewID)+". Ask a sluice administrator to add "+mdCode(login)+
			" to the GitHub notifier's users.")
		return http.StatusOK, "no decision: user not mapped"
	}
	v.subject = subject
	r, err := cast(ctx, d, g.name, strconv.Itoa(n), v)
	if err != nil {
		log.Info("github decision refused", "subject", subject, "err", err)
		g.reply(ctx, log, n, "⚠️ "+mention+", your "+v.noun()+" of review "+mdCode(v.reviewID)+" was not recorded: "+
			mdCode(refusal(err)))
		return http.StatusOK, "no decision: refused"
	}
	log.Info("github decision recorded", "subject", subject, "approve", v.approve)
	g.reply(ctx, log, n, "Recorded the "+v.noun()+" by "+mention+"; "+mdCode(progress(r))+".")
	return http.StatusOK, "decision recorded"
}

// reply comments on issue n, logging a failure.
func (g *GitHub) reply(ctx context.Context, log *slog.Logger, n int, text string) {
	if err := g.comment(ctx, n, text); err != nil {
		log.Warn("github comment failed", "err", err)
	}
}
