package notify

import (
	"net/url"
	"strings"

	"github.com/sluicehq/sluice"
)

// Slack Block Kit limits that the messages keep within.
const (
	slackStatementMax = 2800
	slackHeaderMax    = 150
	slackConfirmMax   = 300
	slackFallbackMax  = 300
)

// The action ids of the review buttons; their value is the review id.
const (
	SlackApproveAction = "sluice_approve"
	SlackDenyAction    = "sluice_deny"
)

// obj is one JSON object of a Block Kit payload.
type obj = map[string]any

// slackBlocks renders a review as Block Kit blocks. Dynamic text goes only
// into plain_text and rich_text elements, which Slack does not parse as
// markup, so a statement or a subject cannot inject mentions or links. A
// pending review gets the Approve and Deny buttons; an ended one shows its
// outcome instead.
func slackBlocks(r *sluice.Review, links Links) []obj {
	pending := r.Status == sluice.ReviewPending || r.Status == ""
	head := "Approval needed: " + title(r)
	if !pending {
		head = statusEmoji(r.Status) + " " + string(r.Status) + ": " + title(r)
	}
	var facts []obj
	for _, f := range reviewFacts(r) {
		facts = append(facts, richText(f.label+": ", true), richText(f.value+"\n", false))
	}
	blocks := []obj{
		{"type": "header", "text": plainText(truncate(head, slackHeaderMax))},
		{"type": "rich_text", "elements": []obj{{"type": "rich_text_section", "elements": facts}}},
		{"type": "rich_text", "elements": []obj{{
			"type":     "rich_text_preformatted",
			"elements": []obj{richText(statementText(r.Request, slackStatementMax), false)},
		}}},
	}
	if votes := voteLines(r); len(votes) > 0 || !pending {
		headline := "Votes"
		if !pending {
			headline, _ = outcome(r)
		}
		sec := []obj{richText(headline+"\n", true)}
		for _, v := range votes {
			sec = append(sec, richText("• "+v+"\n", false))
		}
		blocks = append(blocks, obj{"type": "rich_text", "elements": []obj{{"type": "rich_text_section", "elements": sec}}})
	}
	if pending {
		blocks = append(blocks, slackButtons(r))
		var more []obj
		if u, ok := webURL(links.Review); ok {
			more = append(more, obj{"type": "link", "url": u, "text": "Open the review in the sluice console"}, richText("\n", false))
		}
		if links.CLI != "" {
			more = append(more, richText("CLI: "+line(links.CLI), false))
		}
		if len(more) > 0 {
			blocks = append(blocks, obj{"type": "rich_text", "elements": []obj{{"type": "rich_text_section", "elements": more}}})
		}
	}
	return blocks
}

// slackButtons is the actions block with Approve (behind a confirmation)
// and Deny.
func slackButtons(r *sluice.Review) obj {
	confirm := "The " + noun(r.Request.Kind) + " will run on " + line(orDefault(r.Request.Connection, "the target")) +
		" once enough approvals are in."
	return obj{
		"type":     "actions",
		"block_id": "sluice_review",
		"elements": []obj{
			{
				"type": "button", "action_id": SlackApproveAction, "style": "primary",
				"text": plainText("Approve"), "value": r.ID,
				"confirm": obj{
					"title":   plainText("Approve review?"),
					"text":    plainText(truncate(confirm, slackConfirmMax)),
					"confirm": plainText("Approve"),
					"deny":    plainText("Cancel"),
				},
			},
			{
				"type": "button", "action_id": SlackDenyAction, "style": "danger",
				"text": plainText("Deny"), "value": r.ID,
			},
		},
	}
}

// slackFallback is the message's notification text, which Slack parses as
// mrkdwn; it is escaped.
func slackFallback(r *sluice.Review) string {
	if r.Status == sluice.ReviewPending || r.Status == "" {
		return slackEscape(truncate("Approval needed: "+title(r), slackFallbackMax))
	}
	return slackEscape(truncate(string(r.Status)+": "+title(r), slackFallbackMax))
}

func plainText(s string) obj { return obj{"type": "plain_text", "text": s, "emoji": false} }

// richText is a rich_text text element; Slack rejects empty ones, so an
// empty string becomes a space.
func richText(s string, bold bool) obj {
	if s == "" {
		s = " "
	}
	o := obj{"type": "text", "text": s}
	if bold {
		o["style"] = obj{"bold": true}
	}
	return o
}

// slackEscape escapes the three characters Slack's mrkdwn treats as markup
// for mentions and links.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// webURL returns raw normalised if it is an absolute http(s) URL.
func webURL(raw string) (string, bool) {
	if raw == "" {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", false
	}
	return u.String(), true
}
