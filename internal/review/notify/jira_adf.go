package notify

import (
	"encoding/json"
	"strings"

	"github.com/sluicehq/sluice"
)

// jiraStatementMax keeps a description well under Jira's 32767 characters.
const jiraStatementMax = 20000

// adfNode is one node of an Atlassian Document Format document.
type adfNode struct {
	Type    string         `json:"type"`
	Version int            `json:"version,omitempty"` // the doc node only
	Attrs   map[string]any `json:"attrs,omitempty"`
	Content []adfNode      `json:"content,omitempty"`
	Text    string         `json:"text,omitempty"`
	Marks   []adfMark      `json:"marks,omitempty"`
}

type adfMark struct {
	Type  string         `json:"type"`
	Attrs map[string]any `json:"attrs,omitempty"`
}

func adfDoc(content ...adfNode) adfNode {
	return adfNode{Type: "doc", Version: 1, Content: content}
}

func adfPara(content ...adfNode) adfNode { return adfNode{Type: "paragraph", Content: content} }

// adfText is a text node; ADF rejects empty ones, so "" becomes a space.
func adfText(s string, marks ...string) adfNode {
	if s == "" {
		s = " "
	}
	n := adfNode{Type: "text", Text: s}
	for _, m := range marks {
		n.Marks = append(n.Marks, adfMark{Type: m})
	}
	return n
}

func adfLink(text, href string) adfNode {
	return adfNode{Type: "text", Text: text, Marks: []adfMark{{Type: "link", Attrs: map[string]any{"href": href}}}}
}

func adfMention(accountID string) adfNode {
	return adfNode{Type: "mention", Attrs: map[string]any{"id": accountID}}
}

func adfBullets(items ...adfNode) adfNode {
	list := adfNode{Type: "bulletList"}
	for _, it := range items {
		list.Content = append(list.Content, adfNode{Type: "listItem", Content: []adfNode{it}})
	}
	return list
}

// jiraDescription renders a review as an issue description: facts, the
// statement in a codeBlock and how to decide.
func jiraDescription(r *sluice.Review, links Links, approveStatus, denyStatus string) adfNode {
	var facts []adfNode
	for _, f := range reviewFacts(r) {
		facts = append(facts, adfPara(adfText(f.label+": ", "strong"), adfText(f.value)))
	}
	lang := ""
	if r.Request.Kind == sluice.KindSQL || r.Request.Kind == "" {
		lang = "sql"
	}
	code := adfNode{Type: "codeBlock", Content: []adfNode{adfText(statementText(r.Request, jiraStatementMax))}}
	if lang != "" {
		code.Attrs = map[string]any{"language": lang}
	}
	how := []adfNode{
		adfText("To decide", "strong"),
		adfText(", an approver comments "), adfText("/approve <reason>", "code"),
		adfText(" or "), adfText("/deny <reason>", "code"),
		adfText(" (as the first line of the comment)"),
	}
	if approveStatus != "" || denyStatus != "" {
		how = append(how, adfText(", or moves the issue to"))
		if approveStatus != "" {
			how = append(how, adfText(" "), adfText(approveStatus, "strong"), adfText(" to approve"))
		}
		if denyStatus != "" {
			if approveStatus != "" {
				how = append(how, adfText(" or"))
			}
			how = append(how, adfText(" "), adfText(denyStatus, "strong"), adfText(" to deny"))
		}
	}
	how = append(how, adfText("."))
	content := []adfNode{
		adfPara(adfText("Approval needed for sluice review "), adfText(line(r.ID), "code"), adfText(".")),
		adfBullets(facts...),
		code,
		adfPara(how...),
	}
	if links.CLI != "" {
		content = append(content, adfPara(adfText("With the CLI: "), adfText(line(links.CLI), "code")))
	}
	if u, ok := webURL(links.Review); ok {
		content = append(content, adfPara(adfLink("Open the review in the sluice console", u)))
	}
	return adfDoc(content...)
}

// jiraOutcome renders how a review ended as a comment.
func jiraOutcome(r *sluice.Review) adfNode {
	headline, votes := outcome(r)
	content := []adfNode{adfPara(
		adfText(statusEmoji(r.Status)+" "+headline, "strong"),
		adfText(": review "), adfText(line(r.ID), "code"),
	)}
	if len(votes) > 0 {
		var items []adfNode
		for _, v := range votes {
			items = append(items, adfPara(adfText(v)))
		}
		content = append(content, adfBullets(items...))
	}
	return adfDoc(content...)
}

// jiraNote is a reply to a person: a mention, then text.
func jiraNote(accountID, text string) adfNode {
	return adfDoc(adfPara(adfMention(accountID), adfText(" "+text)))
}

// adfPlain returns the text of a comment body delivered either as a plain
// (wiki markup) string or as an ADF document: text nodes in order, with a
// newline after each block and for each hard break.
func adfPlain(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var doc adfNode
	if json.Unmarshal(raw, &doc) != nil {
		return ""
	}
	var b strings.Builder
	var walk func(n *adfNode, depth int)
	walk = func(n *adfNode, depth int) {
		if depth > 64 {
			return
		}
		switch n.Type {
		case "text":
			b.WriteString(n.Text)
		case "hardBreak":
			b.WriteByte('\n')
		}
		for i := range n.Content {
			walk(&n.Content[i], depth+1)
		}
		switch n.Type {
		case "paragraph", "heading", "codeBlock", "blockquote", "listItem":
			b.WriteByte('\n')
		}
	}
	walk(&doc, 0)
	return b.String()
}
