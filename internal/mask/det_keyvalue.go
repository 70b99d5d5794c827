package mask

import (
	"bytes"
	"strings"
)

// Key-value detectors look at the word before '=' or ':' (quotes and white
// space allowed around them: up to three blanks between an unquoted key
// and its '=', up to maxAssignBlanks elsewhere), in connection strings
// ("host=db password=s3cret", "Server=x;Password=s3cret;",
// "jdbc:postgresql://db/x?user=u&password=s3cret"), environment files
// ("AWS_SECRET_ACCESS_KEY=..."), JSON and YAML ("password": "s3cret"), and
// SQL's PASSWORD 'literal' (see sqlPassword).
// Only the value is masked. The key is compared ignoring case and '_':
//
//   - conn_string_password: a key ending in password, passwd or pwd;
//   - aws_secret_key: a key ending in secretaccesskey or secretkey, whose
//     value is exactly 40 of [A-Za-z0-9/+];
//   - azure_storage_key: a key ending in key (AccountKey, storage_key,
//     primaryKey, key1, ...) whose value is 88 base64 characters ending
//     in "==";
//   - azure_connection_string: AccountKey (any other value),
//     SharedAccessKey, and Password/Pwd when conn_string_password is off;
//   - azure_sas: the sig parameter of a SAS URL or token ("?...&sig=...").
//
// Values that hold nothing secret are skipped: empty, null/true/false,
// all '*', template references ("${DB_PASSWORD}", "{{ .pw }}", "$1",
// "%s", "?") and sluice's own "[redacted…" placeholders.

// keyValue looks for a secret value after the key src[i:j].
func (s *scanner) keyValue(i, j int) int {
	src := s.src
	on := &s.e.on
	w := src[i:j]
	var k kind
	switch lower(w[len(w)-1]) {
	case 'd':
		switch {
		case !suffixFold(w, "password") && !suffixFold(w, "passwd") && !suffixFold(w, "pwd"):
			return 0
		case on[kConnPassword]:
			k = kConnPassword
		case on[kAzureConn] && (equalFold(w, "password") || equalFold(w, "pwd")):
			k = kAzureConn
		default:
			return 0
		}
	case 'y', '1', '2':
		switch {
		case on[kAWSSecret] && (suffixFold(w, "secretaccesskey") || suffixFold(w, "secretkey")):
			k = kAWSSecret
		case on[kAzureKey] && (suffixFold(w, "key") || suffixFold(w, "key1") || suffixFold(w, "key2")):
			k = kAzureKey
		case on[kAzureConn] && (equalFold(w, "accountkey") || equalFold(w, "sharedaccesskey")):
			k = kAzureConn
		default:
			return 0
		}
	case 'g':
		if !on[kAzureSAS] || string(w) != "sig" || (s.before(i-1) != '?' && s.before(i-1) != '&' && s.before(i-1) != ';') || at(src, j) != '=' {
			return 0
		}
		b := j + 1
		e := b
		for e < len(src) && (is(src[e], fB64URL|fB64) || src[e] == '%' || src[e] == '=') {
			e++
		}
		if e-b < 16 {
			return 0
		}
		s.hit(kAzureSAS, b, e)
		return e
	default:
		return 0
	}
	b, e, ok := assignedValue(src, j)
	if !ok {
		return 0
	}
	v := src[b:e]
	switch k {
	case kAWSSecret:
		if len(v) == 40 && allOf(v, fB64) {
			break
		}
		if !on[kAzureKey] || !azureKeyValue(v) {
			return 0
		}
		k = kAzureKey
	case kAzureKey:
		if azureKeyValue(v) {
			break
		}
		if !on[kAzureConn] || !(equalFold(w, "accountkey") || equalFold(w, "sharedaccesskey")) || placeholderValue(v) {
			return 0
		}
		k = kAzureConn
	default:
		if placeholderValue(v) {
			return 0
		}
	}
	s.hit(k, b, e)
	return e
}

// sqlPassword matches the string literal after the PASSWORD keyword of
// SQL (CREATE ROLE u PASSWORD 'x', ALTER USER ... PASSWORD 'x', OPTIONS
// (password 'x')); q is the opening quote. Doubled quotes are part of the
// literal.
func (s *scanner) sqlPassword(q int) int {
	src := s.src
	b := q + 1
	e := b
	limit := min(len(src), b+4096)
	for e < limit {
		if src[e] == '\'' {
			if at(src, e+1) == '\'' {
				e += 2
				continue
			}
			break
		}
		e++
	}
	if e == b || placeholderValue(src[b:e]) {
		return 0
	}
	s.hit(kConnPassword, b, e)
	return e
}

// azureKeyValue reports whether v is an Azure storage account key: 64
// random bytes in standard base64, 88 characters ending in "==".
func azureKeyValue(v []byte) bool {
	return len(v) == 88 && v[86] == '=' && v[87] == '=' && allOf(v[:86], fB64)
}

// suffixFold reports whether the key w ends with suf (lower case, no '_'),
// ignoring ASCII case and '_' in w.
func suffixFold(w []byte, suf string) bool {
	k := len(w)
	for x := len(suf) - 1; x >= 0; x-- {
		for k > 0 && w[k-1] == '_' {
			k--
		}
		if k == 0 || lower(w[k-1]) != suf[x] {
			return false
		}
		k--
	}
	return true
}

// assignedValue finds the value assigned after a key that ends at j: an
// optional closing quote, white space, '=' or ':' (or ":=", "=>"), white
// space, and a value that is quoted ('…', "…", or \"…\" inside an escaped
// string) or runs to white space, ';', '&', a quote or '<' '>' '`'. A
// quoted value that is not closed on its line (or within 4 KiB) runs to
// the end of the line, so that nothing is left clear.
func assignedValue(src []byte, j int) (b, e int, ok bool) {
	k := j
	switch {
	case at(src, k) == '"' || at(src, k) == '\'':
		k++
	case at(src, k) == '\\' && at(src, k+1) == '"':
		k += 2
	}
	if k, ok = skipBlanks(src, k); !ok {
		return 0, 0, false
	}
	switch at(src, k) {
	case '=':
		k++
		if at(src, k) == '>' {
			k++
		}
	case ':':
		k++
		if at(src, k) == '=' {
			k++
		} else if at(src, k) == '/' {
			return 0, 0, false // "jdbc:", "https://"
		}
	default:
		return 0, 0, false
	}
	if k, ok = skipBlanks(src, k); !ok {
		return 0, 0, false
	}
	limit := min(len(src), k+4096)
	var q []byte
	switch c := at(src, k); {
	case c == '"' || c == '\'':
		q = src[k : k+1]
	case c == '\\' && at(src, k+1) == '"':
		q = src[k : k+2]
	}
	if q != nil {
		b = k + len(q)
		e = b
		for e < limit && src[e] != '\n' && src[e] != '\r' {
			if len(q) == 1 && src[e] == '\\' && e+1 < limit && src[e+1] != '\n' {
				e += 2 // libpq and JSON escape
				continue
			}
			if bytes.HasPrefix(src[e:], q) {
				if len(q) == 1 && at(src, e+1) == q[0] {
					e += 2 // ADO.NET doubles quotes
					continue
				}
				break
			}
			e++
		}
		return b, min(e, limit), e > b
	}
	b = k
	e = b
	for e < limit {
		c := src[e]
		if is(c, fSpace) || c == ';' || c == '&' || c == '"' || c == '\'' || c == '<' || c == '>' || c == '`' ||
			c == '\\' && (at(src, e+1) == '"' || at(src, e+1) == 'n' || at(src, e+1) == 'r' || at(src, e+1) == 't') {
			break
		}
		e++
	}
	return b, e, e > b
}

// maxAssignBlanks is how many spaces and tabs may stand on either side of
// the '=' or ':' between a key and its value. Bounding them bounds how far
// a key lies from its value, which a stream cut in pieces relies on (see
// CutMargin); aligned configuration files pad far less.
const maxAssignBlanks = 64

// skipBlanks returns the position after the spaces and tabs at src[k:],
// and false when there are more than maxAssignBlanks of them.
func skipBlanks(src []byte, k int) (int, bool) {
	for n := 0; at(src, k) == ' ' || at(src, k) == '\t'; n++ {
		if n == maxAssignBlanks {
			return k, false
		}
		k++
	}
	return k, true
}

// placeholderValue reports whether an assigned value holds no secret.
// Punctuation that may follow an unquoted value in a list ("null,") is
// ignored.
func placeholderValue(v []byte) bool {
	for len(v) > 1 && strings.IndexByte(",;)]}", v[len(v)-1]) >= 0 {
		v = v[:len(v)-1]
	}
	switch {
	case len(v) == 0:
		return true
	case v[0] == '[' && bytes.HasPrefix(v, []byte("[redacted")):
		return true
	case v[0] == '$' && (len(v) == 1 || v[1] == '{' || isDigit(v[1])):
		return true
	case bytes.HasPrefix(v, []byte("{{")), string(v) == "%s", string(v) == "?",
		equalFold(v, "null"), equalFold(v, "true"), equalFold(v, "false"), equalFold(v, "none"):
		return true
	}
	for _, c := range v {
		if c != '*' {
			return false
		}
	}
	return true
}

// urlPassword matches the password in the userinfo of a URL at the ':' of
// "://": scheme://user:PASSWORD@host. The authority ends at '/', '?', '#',
// white space, a quote or one of <>`\; the userinfo ends at its last '@'
// and the password starts after its first ':'. A password that contains a
// raw '/', '?' or '#' breaks the URL and is not recognised here.
func (s *scanner) urlPassword(c int) int {
	src := s.src
	if !is(s.before(c-1), fAlnum) {
		return 0
	}
	a := c + 3
	e := a
	atSign := -1
	for e < len(src) && e-a < 2048 {
		ch := src[e]
		if ch == '/' || ch == '?' || ch == '#' || is(ch, fSpace) || ch == '"' || ch == '\'' ||
			ch == '<' || ch == '>' || ch == '`' || ch == '\\' {
			break
		}
		if ch == '@' {
			atSign = e
		}
		e++
	}
	if atSign < 0 {
		return 0
	}
	colon := bytes.IndexByte(src[a:atSign], ':')
	if colon < 0 {
		return 0
	}
	p := a + colon + 1
	if placeholderValue(src[p:atSign]) {
		return 0
	}
	s.hit(kURLPassword, p, atSign)
	return atSign
}
