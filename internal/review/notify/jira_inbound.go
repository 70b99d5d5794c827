package notify

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
)

// jiraEvent is the part of a Jira webhook delivery that sluice reads.
type jiraEvent struct {
	WebhookEvent string    `json:"webhookEvent"`
	User         *jiraUser `json:"user"`
	Issue        struct {
		Key    string `json:"key"`
		Fields struct {
			Summary string `json:"summary"`
		} `json:"fields"`
	} `json:"issue"`
	Comment *struct {
		Body   json.RawMessage `json:"body"`
		Author jiraUser        `json:"author"`
	} `json:"comment"`
	Changelog *struct {
		Items []struct {
			Field    string `json:"field"`
			FieldID  string `json:"fieldId"`
			ToString string `json:"toString"`
		} `json:"items"`
	} `json:"changelog"`
}

type jiraUser struct {
	AccountID   string `json:"accountId"`
	DisplayName string `json:"displayName"`
}

// name is how the user is named in reasons.
func (u *jiraUser) name() string { return line(orDefault(u.DisplayName, u.AccountID)) }

// Handler returns the handler of the Jira webhook, to be mounted at
// /hooks/<name>. It checks X-Hub-Signature, then takes a decision from a
// "comment_created" event whose comment's first line is /approve or /deny,
// or from a "jira:issue_updated" event whose changelog moves the status to
// ApproveStatus or DenyStatus, on an issue of the configured project whose
// summary carries sluice's marker. Other deliveries are answered 204. The
// decision, or the reason there was none, is commented on the issue.
func (j *Jira) Handler(d Decider) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := readHookBody(w, r)
		if !ok {
			return
		}
		if err := checkHMAC(j.secret, r.Header.Get("X-Hub-Signature"), "sha256=", body); err != nil {
			j.log.Warn("jira delivery refused", "notifier", j.name, "err", err)
			answer(w, http.StatusUnauthorized, "invalid signature")
			return
		}
		var ev jiraEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			answer(w, http.StatusBadRequest, "malformed payload")
			return
		}
		v, user, ok := j.vote(&ev)
		if !ok {
			answer(w, http.StatusNoContent, "")
			return
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), j.decideTimeout)
		defer cancel()
		status, msg := j.decide(ctx, d, v, user, ev.Issue.Key)
		answer(w, status, msg)
	})
}

// vote finds a decision in a delivery and the user who made it. ok is false
// for anything that is not a decision on an issue sluice created in its
// project.
func (j *Jira) vote(ev *jiraEvent) (vote, *jiraUser, bool) {
	if !jiraIssueKey.MatchString(ev.Issue.Key) || !strings.HasPrefix(ev.Issue.Key, j.project+"-") {
		return vote{}, nil, false
	}
	id, ok := reviewFromTitle(ev.Issue.Fields.Summary)
	if !ok {
		return vote{}, nil, false
	}
	v := vote{reviewID: id, via: "jira"}
	var user *jiraUser
	switch ev.WebhookEvent {
	case "comment_created":
		if ev.Comment == nil {
			return vote{}, nil, false
		}
		approve, reason, isCmd := parseCommand(adfPlain(ev.Comment.Body))
		if !isCmd {
			return vote{}, nil, false
		}
		user = &ev.Comment.Author
		v.approve, v.reason = approve, reason
		if v.reason == "" {
			v.reason = v.verb() + " in Jira by " + user.name()
		}
	case "jira:issue_updated":
		if ev.Changelog == nil || ev.User == nil {
			return vote{}, nil, false
		}
		status, found := "", false
		for _, it := range ev.Changelog.Items {
			if (it.FieldID == "status" || it.Field == "status") && j.decides(it.ToString) {
				status, found = it.ToString, true
			}
		}
		if !found {
			return vote{}, nil, false
		}
		user = ev.User
		v.approve = strings.EqualFold(status, j.approveStatus)
		v.reason = v.verb() + " in Jira by " + user.name() + " (moved to " + line(status) + ")"
	default:
		return vote{}, nil, false
	}
	if user.AccountID == "" {
		return vote{}, nil, false
	}
	return v, user, true
}

// decide maps the account, casts the vote and comments the result on the
// issue. It returns the status and text to answer the delivery with.
func (j *Jira) decide(ctx context.Context, d Decider, v vote, user *jiraUser, key string) (int, string) {
	log := j.log.With("notifier", j.name, "review", v.reviewID, "issue", key, "jira_account", user.AccountID)
	subject, ok := j.users[user.AccountID]
	if !ok {
		log.Info("jira decision by an unmapped user")
		j.reply(ctx, log, key, jiraNote(user.AccountID, "your Jira account is not mapped to a sluice approver, so no decision "+
			"was recorded on review "+line(v.reviewID)+". Ask a sluice administrator to add your account id ("+
			line(user.AccountID)+") to the Jira notifier's users."))
		return http.StatusOK, "no decision: user not mapped"
	}
	v.subject = subject
	r, err := cast(ctx, d, j.name, key, v)
	if err != nil {
		log.Info("jira decision refused", "subject", subject, "err", err)
		j.reply(ctx, log, key, jiraNote(user.AccountID, "your "+v.noun()+" of review "+line(v.reviewID)+
			" was not recorded: "+refusal(err)+"."))
		return http.StatusOK, "no decision: refused"
	}
	log.Info("jira decision recorded", "subject", subject, "approve", v.approve)
	j.reply(ctx, log, key, jiraNote(user.AccountID, "your "+v.noun()+" is recorded; "+progress(r)+"."))
	return http.StatusOK, "decision recorded"
}

// reply comments on issue key, logging a failure.
func (j *Jira) reply(ctx context.Context, log *slog.Logger, key string, body adfNode) {
	if err := j.comment(ctx, key, body); err != nil {
		log.Warn("jira comment failed", "err", err)
	}
}
