package notify

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"
)

// slackSkew is how far a request's timestamp may be from now, as Slack
// recommends.
const slackSkew = 5 * time.Minute

// slackInteraction is the part of an interactivity payload that sluice
// reads.
type slackInteraction struct {
	Type string `json:"type"`
	Team struct {
		ID string `json:"id"`
	} `json:"team"`
	User struct {
		ID       string `json:"id"`
		Username string `json:"username"`
		Name     string `json:"name"`
	} `json:"user"`
	Channel struct {
		ID string `json:"id"`
	} `json:"channel"`
	Container struct {
		ChannelID string `json:"channel_id"`
		MessageTS string `json:"message_ts"`
	} `json:"container"`
	Message struct {
		TS string `json:"ts"`
	} `json:"message"`
	ResponseURL string `json:"response_url"`
	Actions     []struct {
		ActionID string `json:"action_id"`
		Value    string `json:"value"`
	} `json:"actions"`
}

// ref is the "channel:ts" of the message the button belongs to.
func (in *slackInteraction) ref() string {
	ch, ts := channelOf(in), in.Container.MessageTS
	if ts == "" {
		ts = in.Message.TS
	}
	return ch + ":" + ts
}

// channelOf is the channel the interaction happened in.
func channelOf(in *slackInteraction) string {
	return orDefault(in.Container.ChannelID, in.Channel.ID)
}

// userName is how the clicking user is named in reasons.
func (in *slackInteraction) userName() string {
	return line(orDefault(in.User.Username, orDefault(in.User.Name, in.User.ID)))
}

// Handler returns the handler of Slack's interactivity requests, to be
// mounted at /hooks/<name> and configured as the app's Request URL. It
// checks the signature and timestamp, answers 200 at once and then, in the
// background, passes a click on Approve or Deny to d and tells the user
// what happened with an ephemeral message.
func (s *Slack) Handler(d Decider) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := readHookBody(w, r)
		if !ok {
			return
		}
		if err := s.verify(r.Header, body); err != nil {
			s.log.Warn("slack callback refused", "notifier", s.name, "err", err)
			answer(w, http.StatusUnauthorized, "invalid request signature")
			return
		}
		in, err := parseSlackInteraction(body)
		if err != nil {
			answer(w, http.StatusBadRequest, "malformed payload")
			return
		}
		v, ok := s.vote(in)
		if !ok {
			w.WriteHeader(http.StatusOK) // another kind of interaction, or another workspace
			return
		}
		if !s.begin() {
			answer(w, http.StatusServiceUnavailable, "shutting down")
			return
		}
		w.WriteHeader(http.StatusOK)
		ctx := context.WithoutCancel(r.Context())
		go func() {
			defer s.wg.Done()
			ctx, cancel := context.WithTimeout(ctx, s.decideTimeout)
			defer cancel()
			s.decide(ctx, d, in, v)
		}()
	})
}

// begin registers a background click unless the notifier is closed.
func (s *Slack) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// verify checks Slack's request signature: X-Slack-Signature is "v0=" +
// hex(HMAC-SHA256(signing secret, "v0:" + timestamp + ":" + body)) and
// X-Slack-Request-Timestamp is within five minutes of now.
func (s *Slack) verify(h http.Header, body []byte) error {
	ts := h.Get("X-Slack-Request-Timestamp")
	if err := checkTimestamp(ts, s.now(), slackSkew); err != nil {
		return err
	}
	return checkHMAC(s.signingSecret, h.Get("X-Slack-Signature"), "v0=", []byte("v0:"+ts+":"), body)
}

func parseSlackInteraction(body []byte) (*slackInteraction, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, err
	}
	payload := form.Get("payload")
	if payload == "" {
		return nil, errors.New("no payload")
	}
	var in slackInteraction
	if err := json.Unmarshal([]byte(payload), &in); err != nil {
		return nil, err
	}
	return &in, nil
}

// vote finds a click on a review button. The subject is filled in later.
func (s *Slack) vote(in *slackInteraction) (vote, bool) {
	if in.Type != "block_actions" || (s.teamID != "" && in.Team.ID != s.teamID) {
		return vote{}, false
	}
	for _, a := range in.Actions {
		if a.ActionID != SlackApproveAction && a.ActionID != SlackDenyAction {
			continue
		}
		if !reviewIDPattern.MatchString(a.Value) {
			return vote{}, false
		}
		v := vote{reviewID: a.Value, approve: a.ActionID == SlackApproveAction, via: "slack"}
		if v.approve {
			v.reason = "approved in Slack by " + in.userName()
		} else {
			v.reason = "denied in Slack by " + in.userName()
		}
		return v, true
	}
	return vote{}, false
}

// decide maps the user, casts the vote and tells the user the result.
func (s *Slack) decide(ctx context.Context, d Decider, in *slackInteraction, v vote) {
	log := s.log.With("notifier", s.name, "review", v.reviewID, "slack_user", in.User.ID)
	subject, ok := s.users[in.User.ID]
	if !ok {
		log.Info("slack click by an unmapped user")
		s.tell(ctx, in, "Your Slack account is not mapped to a sluice approver, so no decision was recorded on review "+
			v.reviewID+". Ask a sluice administrator to add your Slack user id ("+in.User.ID+") to the Slack notifier's users.")
		return
	}
	v.subject = subject
	r, err := cast(ctx, d, s.name, in.ref(), v)
	if err != nil {
		log.Info("slack decision refused", "subject", subject, "err", err)
		s.tell(ctx, in, "Your "+v.noun()+" of review "+v.reviewID+" was not recorded: "+refusal(err)+".")
		return
	}
	log.Info("slack decision recorded", "subject", subject, "approve", v.approve)
	s.tell(ctx, in, "Your "+v.noun()+" is recorded; "+progress(r)+".")
}

// tell sends the clicking user an ephemeral message: through the
// interaction's response_url (which needs no token), or with
// chat.postEphemeral when there is none. Failures are logged.
func (s *Slack) tell(ctx context.Context, in *slackInteraction, text string) {
	text = slackEscape(text)
	var err error
	if in.ResponseURL != "" && checkEndpoint("response_url", in.ResponseURL) == nil {
		var b []byte
		b, err = json.Marshal(obj{"response_type": "ephemeral", "replace_original": false, "text": text})
		if err == nil {
			h := http.Header{}
			h.Set("Content-Type", "application/json; charset=utf-8")
			_, err = s.call.do(ctx, call{op: "response_url", method: http.MethodPost, url: in.ResponseURL, header: h, body: b})
		}
	} else {
		err = s.method(ctx, "chat.postEphemeral", obj{"channel": channelOf(in), "user": in.User.ID, "text": text}, nil)
	}
	if err != nil {
		s.log.Warn("slack reply to user failed", "notifier", s.name, "slack_user", in.User.ID, "err", err)
	}
}
