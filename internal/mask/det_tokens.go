package mask

// prefixed tries the detectors of tokens with a known literal prefix at the
// word src[i:j].
func (s *scanner) prefixed(i, j int) int {
	src := s.src
	on := &s.e.on
	w := src[i:j]
	// Tokens whose characters include '-' or '.' (JWTs, Google, GitLab and
	// Slack tokens) start after neither: such a prefix in the middle of a
	// run is not a token, and checking it would rescan the run for every
	// occurrence.
	pb := s.before(i - 1)
	inRun := pb == '-' || pb == '.'
	switch src[i] {
	case 'A':
		if on[kAWSKeyID] && len(w) == 20 && awsKeyPrefix(w) && allOf(w[4:], fUpper|fDigit) {
			s.hit(kAWSKeyID, i, j)
			return j
		}
		if on[kGoogle] && !inRun && hasPrefixAt(src, i, "AIza") {
			// AIza and 35 more of [A-Za-z0-9_-].
			if e := run(src, i, fB64URL); e-i == 39 {
				s.hit(kGoogle, i, e)
				return e
			}
		}
	case 'e':
		if on[kJWT] && !inRun && hasPrefixAt(src, i, "eyJ") {
			if e := jwtEnd(src, i, true); e > 0 {
				s.hit(kJWT, i, e)
				return e
			}
		}
	case 'g':
		if on[kGitHub] && len(w) > 4 && (w[1] == 'h' || w[1] == 'i') {
			// ghp_ (personal), gho_ (OAuth), ghu_ (user-to-server),
			// ghs_ (server-to-server), ghr_ (refresh): 36 alphanumerics
			// today; 30 to 251 accepted.
			if w[1] == 'h' && w[3] == '_' && (w[2] == 'p' || w[2] == 'o' || w[2] == 'u' || w[2] == 's' || w[2] == 'r') &&
				len(w) >= 34 && len(w) <= 255 && allOf(w[4:], fAlnum) {
				s.hit(kGitHub, i, j)
				return j
			}
			// Fine-grained personal access tokens.
			if hasPrefixAt(src, i, "github_pat_") && len(w) >= 11+22 {
				s.hit(kGitHub, i, j)
				return j
			}
		}
		if on[kGitLab] && !inRun && len(w) > 2 && w[1] == 'l' && at(src, j) == '-' && gitlabPrefix(w) {
			return s.gitlab(i, j+1)
		}
	case 'G':
		if on[kGitLab] && !inRun && hasPrefixAt(src, i, "GR1348941") {
			// Runner registration token (deprecated).
			return s.gitlab(i, i+9)
		}
	case 'x':
		if on[kSlack] && !inRun && len(w) == 4 && slackPrefix(w) {
			if c := at(src, j); c == '-' || c == '.' && w[3] == 'e' {
				e := j + 1
				for e < len(src) && (is(src[e], fAlnum) || src[e] == '-' || src[e] == '.') {
					e++
				}
				for e > j && (src[e-1] == '-' || src[e-1] == '.') {
					e--
				}
				if e-j > 10 && !is(at(src, e), fWord) {
					s.hit(kSlack, i, e)
					return e
				}
			}
		}
	case 'h':
		if on[kSlack] && len(w) == 5 && string(w) == "hooks" && hasPrefixAt(src, j, ".slack.com/") {
			return s.slackWebhook(j + len(".slack.com/"))
		}
	case 's':
		if on[kStripe] && len(w) > 8 && w[1] == 'k' && (hasPrefixAt(src, i, "sk_live_") || hasPrefixAt(src, i, "sk_test_")) {
			return s.stripe(i, j, 8)
		}
		if on[kSluice] && !inRun && hasPrefixAt(src, i, "sluice_st_") {
			if e := jwtEnd(src, i+10, false); e > 0 {
				s.hit(kSluice, i, e)
				return e
			}
		}
	case 'r':
		if on[kStripe] && (hasPrefixAt(src, i, "rk_live_") || hasPrefixAt(src, i, "rk_test_")) {
			return s.stripe(i, j, 8)
		}
	case 'w':
		if on[kStripe] && hasPrefixAt(src, i, "whsec_") {
			return s.stripe(i, j, 6)
		}
	case 'B', 'b':
		if on[kPEM] && len(w) == 5 && string(w) == "BEGIN" && i-5 >= s.last && string(src[i-5:i]) == "-----" {
			if e := s.pemEnd(j); e > 0 {
				s.hit(kPEM, i-5, e)
				return e
			}
			return 0
		}
		if on[kBearer] && len(w) == 6 && equalFold(w, "bearer") {
			return s.bearer(j)
		}
	}
	return 0
}

// prefixBytes lists, per detector, the first bytes of the words prefixed
// looks at.
var prefixBytes = map[kind]string{
	kAWSKeyID: "A",
	kGoogle:   "A",
	kJWT:      "e",
	kGitHub:   "g",
	kGitLab:   "gG",
	kSlack:    "xh",
	kStripe:   "srw",
	kSluice:   "s",
	kPEM:      "B",
	kBearer:   "Bb",
}

func allOf(b []byte, f uint16) bool {
	for _, c := range b {
		if ctab[c]&f == 0 {
			return false
		}
	}
	return true
}

// awsKeyPrefix reports whether w starts with the prefix of an AWS access
// key id (AKIA long-term, ASIA temporary) or another IAM unique id that is
// used as a key id.
func awsKeyPrefix(w []byte) bool {
	switch string(w[:4]) {
	case "AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "ANPA", "ANVA", "APKA", "AROA", "ASCA":
		return true
	}
	return false
}

// gitlabPrefix reports whether w is a documented GitLab token prefix
// (without its '-'): personal, OAuth application secret, deploy, runner
// authentication, CI/CD job, pipeline trigger, feed, incoming mail,
// Kubernetes agent, SCIM and feature-flag client tokens.
func gitlabPrefix(w []byte) bool {
	switch string(w) {
	case "glpat", "gloas", "gldt", "glrt", "glcbt", "glptt", "glft", "glimt", "glagent", "glsoat", "glffct":
		return true
	}
	return false
}

// gitlab matches the body of a GitLab token starting at b (after its
// prefix): 20 or more of [A-Za-z0-9_.-], not ending in '.' or '-'.
func (s *scanner) gitlab(i, b int) int {
	src := s.src
	e := b
	for e < len(src) && (is(src[e], fB64URL) || src[e] == '.') {
		e++
	}
	for e > b && (src[e-1] == '.' || src[e-1] == '-') {
		e--
	}
	if e-b < 20 || is(at(src, e), fWord) {
		return 0
	}
	s.hit(kGitLab, i, e)
	return e
}

// slackPrefix reports whether w is the prefix of a Slack token: bot,
// user, workspace app, refresh, legacy and rotating tokens (xox?), and
// app-level tokens (xapp).
func slackPrefix(w []byte) bool {
	switch string(w) {
	case "xoxb", "xoxp", "xoxa", "xoxr", "xoxs", "xoxo", "xoxe", "xapp":
		return true
	}
	return false
}

// slackWebhook matches the secret path of an incoming webhook URL after
// "hooks.slack.com/": services/T…/B…/secret, workflows/…, triggers/….
// The host and the kind of hook stay visible.
func (s *scanner) slackWebhook(k int) int {
	src := s.src
	for _, seg := range [...]string{"services/", "workflows/", "triggers/"} {
		if hasPrefixAt(src, k, seg) {
			b := k + len(seg)
			e := b
			for e < len(src) && (is(src[e], fB64URL) || src[e] == '/') {
				e++
			}
			if e-b < 20 {
				return 0
			}
			s.hit(kSlack, b, e)
			return e
		}
	}
	return 0
}

// stripe matches a Stripe secret (sk_), restricted (rk_) or webhook
// signing (whsec_) key: the prefix and 16 or more alphanumerics. The
// publishable pk_ keys are public by design and are not matched.
func (s *scanner) stripe(i, j, prefix int) int {
	w := s.src[i:j]
	if len(w)-prefix < 16 || !allOf(w[prefix:], fAlnum) {
		return 0
	}
	s.hit(kStripe, i, j)
	return j
}

// bearer matches the token after "Bearer " at j: an RFC 6750 b64token of
// at least 8 characters that is not a plain word (it has a digit or one of
// -._~+/), so prose like "bearer authentication" is left alone.
func (s *scanner) bearer(j int) int {
	src := s.src
	if at(src, j) != ' ' {
		return 0
	}
	b := j + 1
	e := run(src, b, fToken)
	plain := true
	for _, c := range src[b:e] {
		if !is(c, fUpper|fLower) {
			plain = false
			break
		}
	}
	for e < len(src) && src[e] == '=' {
		e++
	}
	if e-b < 8 || plain || is(at(src, e), fWord) {
		return 0
	}
	s.hit(kBearer, b, e)
	return e
}
