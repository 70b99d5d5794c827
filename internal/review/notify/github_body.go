package notify

import (
	"regexp"
	"strings"

	"github.com/sluicehq/sluice"
)

// githubStatementMax keeps an issue body well under GitHub's 65536
// characters.
const githubStatementMax = 30000

// githubMarker is the first line of every issue body sluice writes; the
// webhook handler takes the review id from it.
var githubMarker = regexp.MustCompile(`\A<!-- sluice-review: ([A-Za-z0-9][A-Za-z0-9._:-]{0,127}) -->\r?\n`)

// reviewFromIssueBody returns the review id of an issue sluice opened.
func reviewFromIssueBody(body string) (string, bool) {
	m := githubMarker.FindStringSubmatch(body)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// githubIssueBody renders a review as the Markdown body of its issue. Every
// dynamic value is in a code span or a fenced block sized so that nothing
// in it can close the fence, mention someone or make a link.
func githubIssueBody(r *sluice.Review, links Links, approveLabel, denyLabel string) string {
	var b strings.Builder
	b.WriteString("<!-- sluice-review: " + r.ID + " -->\n")
	b.WriteString("### Approval needed: review " + mdCode(r.ID) + "\n\n")
	b.WriteString(mdCode(orDefault(r.Request.Subject, "(unknown)")) + " wants to run a **" + classes(r.Request.Class) +
		"** " + noun(r.Request.Kind) + " on " + mdCode(orDefault(r.Request.Connection, "(none)")) + ".\n\n")
	for _, f := range reviewFacts(r) {
		b.WriteString("- **" + f.label + ":** " + mdCode(f.value) + "\n")
	}
	b.WriteString("\n")
	lang := ""
	if r.Request.Kind == sluice.KindSQL || r.Request.Kind == "" {
		lang = "sql"
	}
	b.WriteString(mdFence(statementText(r.Request, githubStatementMax), lang))
	b.WriteString("\n**To decide**, an approver comments " + mdCode("/approve <reason>") + " or " + mdCode("/deny <reason>") +
		" on this issue (as the first line of the comment), or adds the label " + mdCode(approveLabel) +
		" or " + mdCode(denyLabel) + ".\n")
	if links.CLI != "" {
		b.WriteString("With the CLI: " + mdCode(line(links.CLI)) + "\n")
	}
	if u, ok := webURL(links.Review); ok {
		b.WriteString("[Open the review in the sluice console](" + mdDestination(u) + ")\n")
	}
	return b.String()
}

// githubOutcome renders how a review ended as a Markdown comment.
func githubOutcome(r *sluice.Review) string {
	headline, votes := outcome(r)
	var b strings.Builder
	b.WriteString(statusEmoji(r.Status) + " **" + headline + "**: review " + mdCode(r.ID) + "\n")
	if len(votes) > 0 {
		b.WriteString("\n")
	}
	for _, v := range votes {
		b.WriteString("- " + mdCode(v) + "\n")
	}
	return b.String()
}

// mdCode renders s as an inline code span that nothing in s can end early:
// the delimiter is one backtick longer than the longest run in s.
func mdCode(s string) string {
	s = line(s)
	if s == "" {
		return "` `"
	}
	delim := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return delim + s + delim
}

// mdFence renders s as a fenced code block whose fence is longer than any
// run of backticks in s, so that s cannot close it.
func mdFence(s, lang string) string {
	fence := strings.Repeat("`", max(3, longestRun(s, '`')+1))
	return fence + lang + "\n" + s + "\n" + fence + "\n"
}

func longestRun(s string, c byte) int {
	best, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	return best
}

// mdDestination writes a URL as a link destination in angle brackets,
// escaping what could end it.
func mdDestination(u string) string {
	return "<" + strings.NewReplacer("<", "%3C", ">", "%3E", " ", "%20", "\n", "").Replace(u) + ">"
}
