package mask

import (
	"strings"
	"testing"
)

const (
	testJWT    = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	azureKey   = "IpHYzcMQQR5+wnN4pmHJNRh8B+TVY26bw8QAsnJEuM06l/Ea5lEHBQamigLw4WGvN/hsuQeHOMNw8H6NO1g7rQ=="
	awsSecret  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	ghpToken   = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
	pemRSA     = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7bq98v2Pk0ZQ\nq1w2e3r4t5y6u7i8o9p0==\n-----END RSA PRIVATE KEY-----"
	pemOpenSSH = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----"
)

// detectorCase is one entry of the detector corpus: the input and the
// exact output with every detector on and the redact strategy.
type detectorCase struct {
	name string
	in   string
	out  string // "" means: unchanged (a hard negative)
}

var detectorCorpus = []detectorCase{
	// email
	{"email", "mail ann.lee@example.com now", "mail [redacted:email] now"},
	{"email plus subdomain", "<a+tag@mail.example.co.uk>", "<[redacted:email]>"},
	{"email end of sentence", "Write to ops@example.org.", "Write to [redacted:email]."},
	{"email in URL path", "https://x.io/users/ann@example.com/profile", "https://x.io/users/[redacted:email]/profile"},
	{"email in query", "GET /search?email=ann@example.com&x=1", "GET /search?email=[redacted:email]&x=1"},
	{"email in JSON", `{"email":"bob@example.net"}`, `{"email":"[redacted:email]"}`},
	{"neg: URL userinfo is not an email", "https://ann@example.com/repo.git", ""},
	{"neg: asset name", "logo@2x.png icon@3x.webp", ""},
	{"neg: no dot in domain", "user@localhost", ""},
	{"neg: numeric TLD", "a@b.c1 x@10.0.0", ""},
	{"neg: decorator", "@Override and @media screen", ""},

	// phone
	{"phone intl", "call +44 20 7946 0958 today", "call [redacted:phone] today"},
	{"phone intl trunk", "Tel. +49 (0)30 1234567", "Tel. [redacted:phone]"},
	{"phone E.164", "sms +14155552671", "sms [redacted:phone]"},
	{"phone NANP parens", "(415) 555-2671", "[redacted:phone]"},
	{"phone NANP dots", "415.555.2671", "[redacted:phone]"},
	{"phone NANP country", "1-800-555-0199", "[redacted:phone]"},
	{"phone national UK", "ring 020 7946 0958", "ring [redacted:phone]"},
	{"phone national FR", "tél 01 23 45 67 89", "tél [redacted:phone]"},
	{"neg: date", "on 2024-01-15 and 15.01.2024 and 01-02-2024", ""},
	{"neg: time zone offset", "2024-01-15T10:30:45+0100", ""},
	{"neg: bare digits", "id 4155552671 and 14155552671", ""},
	{"neg: area code starting 1", "123-456-7890", ""},
	{"neg: longer id", "415-555-2671-99", ""},

	// payment_card
	{"card visa grouped", "card 4111 1111 1111 1111 ok", "card [redacted:payment_card] ok"},
	{"card visa dashes", "4111-1111-1111-1111", "[redacted:payment_card]"},
	{"card bare", `"pan":"5555555555554444"`, `"pan":"[redacted:payment_card]"`},
	{"card amex 4-6-5", "amex 3782 822463 10005", "amex [redacted:payment_card]"},
	{"card discover", "6011111111111117", "[redacted:payment_card]"},
	{"card jcb", "3530111333300000", "[redacted:payment_card]"},
	{"card mastercard 2-series", "2223003122003222", "[redacted:payment_card]"},
	{"card diners 14", "30569309025904", "[redacted:payment_card]"},
	{"neg: Luhn-invalid", "4111111111111112 and 4111 1111 1111 1112", ""},
	{"neg: Luhn-valid unknown IIN", "1234567890123403 9876543210987609", ""},
	{"neg: 20-digit id", "order 12345678901234567890", ""},
	{"neg: card-like inside longer group run", "4111 1111 1111 1111 1111 1111", ""},
	{"neg: mixed separators", "4111-1111 1111-1111", ""},

	// iban
	{"iban print", "IBAN DE89 3704 0044 0532 0130 00.", "IBAN [redacted:iban]."},
	{"iban compact", "GB82WEST12345698765432", "[redacted:iban]"},
	{"iban letters", "FR1420041010050500013M02606", "[redacted:iban]"},
	{"iban NL", "NL91ABNA0417164300", "[redacted:iban]"},
	{"neg: iban bad checksum", "DE89 3704 0044 0532 0130 01", ""},
	{"neg: iban wrong length", "DE8937040044053201300", ""},
	{"neg: unknown country", "ZZ89370400440532013000", ""},

	// us_ssn
	{"ssn", "SSN 123-45-6789.", "SSN [redacted:us_ssn]."},
	{"ssn spaces", "ssn: 123 45 6789", "ssn: [redacted:us_ssn]"},
	{"neg: ssn invalid area", "000-12-3456 666-12-3456 900-12-3456", ""},
	{"neg: ssn invalid group and serial", "123-00-4567 123-45-0000", ""},
	{"neg: ssn advertised", "078-05-1120", ""},
	{"neg: ssn bare", "123456789", ""},
	{"neg: ssn mixed separators", "123-45 6789", ""},

	// ip
	{"ipv4", "from 10.1.2.3 to 172.16.254.1", "from [redacted:ip] to [redacted:ip]"},
	{"ipv4 with port", "dial 192.168.0.10:5432", "dial [redacted:ip]:5432"},
	{"ipv4 cidr", "allow 100.64.0.0/10", "allow [redacted:ip]/10"},
	{"ipv6", "client 2001:4860:4860::8888 said", "client [redacted:ip] said"},
	{"ipv6 link-local", "fe80::1ff:fe23:4567:890a%eth0", "[redacted:ip]%eth0"},
	{"ipv6 bracketed", "[2606:4700::1111]:443", "[[redacted:ip]]:443"},
	{"ipv6 full", "2001:0db9:85a3:0000:0000:8a2e:0370:7334", "[redacted:ip]"},
	{"ipv6 mapped", "::ffff:10.0.0.1", "[redacted:ip]"},
	{"neg: version strings", "version 1.2.3.4, v1.2.3.4, 1.2.3.4.5, 1.2.3.4-beta, go1.26.8", ""},
	{"neg: version in JSON", `{"version": "10.0.0.1"}`, ""},
	{"neg: product token", "Chrome/120.0.6099.109 Agent/1.2.3.4", ""},
	{"neg: special addresses", "127.0.0.1 0.0.0.0 255.255.255.0 ::1 ::", ""},
	{"neg: documentation ranges", "192.0.2.1 198.51.100.7 203.0.113.9 2001:db8::1", ""},
	{"neg: out of range", "256.1.1.1 1.2.3 01.2.3.4", ""},
	{"neg: times and MACs", "10:30:45 00:1a:2b:3c:4d:5e", ""},
	{"neg: C++ scope", "std::vector a::b", ""},

	// jwt
	{"jwt", "token " + testJWT + " end", "token [redacted:jwt] end"},
	{"jwt unsecured", "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", "[redacted:jwt]"},
	{"neg: jwt header without alg", "eyJraWQiOiJ4IiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIn0.c2ln", ""},
	{"neg: eyJ base64 that is not a JWT", "eyJmb28iOiJiYXIifQ==", ""},
	{"neg: JWT-like inside a longer token", "x-eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", ""},

	// pem_private_key
	{"pem rsa", "key:\n" + pemRSA + "\ndone", "key:\n[redacted:pem_private_key]\ndone"},
	{"pem openssh", pemOpenSSH, "[redacted:pem_private_key]"},
	{"pem escaped in JSON", `{"key":"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\n"}`, `{"key":"[redacted:pem_private_key]\n"}`},
	{"pem truncated", "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrY\nq1w2e3", "[redacted:pem_private_key]"},
	{"neg: public key and certificate", "-----BEGIN PUBLIC KEY-----\nMIIBIjAN\n-----END PUBLIC KEY-----\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", ""},

	// aws
	{"aws key id", "AKIAIOSFODNN7EXAMPLE", "[redacted:aws_access_key_id]"},
	{"aws temporary key id", "id=ASIAY34FZKBOKMUTVV7A;", "id=[redacted:aws_access_key_id];"},
	{"aws secret env", "AWS_SECRET_ACCESS_KEY=" + awsSecret, "AWS_SECRET_ACCESS_KEY=[redacted:aws_secret_key]"},
	{"aws secret ini", "aws_secret_access_key = " + awsSecret, "aws_secret_access_key = [redacted:aws_secret_key]"},
	{"aws secret JSON", `{"SecretAccessKey": "` + awsSecret + `"}`, `{"SecretAccessKey": "[redacted:aws_secret_key]"}`},
	{"aws key id after a dash", "prod-AKIAIOSFODNN7EXAMPLE", "prod-[redacted:aws_access_key_id]"},
	{"neg: aws key id too short", "AKIAIOSFODNN7EXAMPL", ""},
	{"neg: 40 chars without context", "digest " + awsSecret, ""},

	// github
	{"github classic", "token " + ghpToken, "token [redacted:github_token]"},
	{"github oauth", "gho_16C7e42F292c6912E7710c838347Ae178B4a", "[redacted:github_token]"},
	{"github fine-grained", "github_pat_11ABCDEFG0123456789abc_" + strings.Repeat("x", 59), "[redacted:github_token]"},
	{"neg: github too short", "ghp_short", ""},

	// gitlab
	{"gitlab pat", "glpat-z_sxgtrfAxKr8q1TPY8Y", "[redacted:gitlab_token]"},
	{"gitlab deploy", "gldt-abcdefghij0123456789", "[redacted:gitlab_token]"},
	{"gitlab runner registration", "GR1348941abcdefghij0123456789", "[redacted:gitlab_token]"},
	{"neg: gitlab too short", "glpat-short", ""},

	// slack
	{"slack bot", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "[redacted:slack_token]"},
	{"slack app", "xapp-1-A0123456789-1234567890123-abcdef0123456789", "[redacted:slack_token]"},
	{"slack webhook", "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", "https://hooks.slack.com/services/[redacted:slack_token]"},
	{"neg: slack-like", "xoxz-123456789012 xoxb-short", ""},

	// stripe
	{"stripe secret", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "[redacted:stripe_key]"},
	{"stripe restricted test", "rk_test_4eC39HqLyjWDarjtT1zdp7dc", "[redacted:stripe_key]"},
	{"neg: stripe publishable", "pk_live_4eC39HqLyjWDarjtT1zdp7dc pk_test_4eC39HqLyjWDarjtT1zdp7dc", ""},

	// google
	{"google api key", "key=AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe&q=x", "key=[redacted:google_api_key]&q=x"},
	{"neg: google too short", "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQ", ""},

	// azure
	{"azure account key", "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + azureKey + ";EndpointSuffix=core.windows.net",
		"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=[redacted:azure_storage_key];EndpointSuffix=core.windows.net"},
	{"azure key in context", `"primaryKey": "` + azureKey + `"`, `"primaryKey": "[redacted:azure_storage_key]"`},
	{"neg: azure key without context", "blob " + azureKey, ""},
	{"azure sas", "https://a.blob.core.windows.net/c/b?sv=2022-11-02&se=2025-01-01&sp=r&sig=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA%3D%3D",
		"https://a.blob.core.windows.net/c/b?sv=2022-11-02&se=2025-01-01&sp=r&sig=[redacted:azure_sas]"},
	{"azure service bus", "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=abcDEF123ghi456JKL789=",
		"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=[redacted:azure_connection_string]"},
	{"azure short account key", "AccountName=dev;AccountKey=Eby8vdM02xNOcqF==;", "AccountName=dev;AccountKey=[redacted:azure_connection_string];"},

	// url_password
	{"url password", "postgres://app:s3cr3t@db:5432/orders", "postgres://app:[redacted:url_password]@db:5432/orders"},
	{"url password no user", "redis://:hunter2@cache:6379", "redis://:[redacted:url_password]@cache:6379"},
	{"url password with @", "amqp://u:p@ss@mq/vh", "amqp://u:[redacted:url_password]@mq/vh"},
	{"neg: url without password", "https://user@host/x https://host:8443/x", ""},
	{"neg: url password reference", "postgres://u:${PGPASSWORD}@h/db", ""},

	// conn_string_password
	{"libpq", "host=db user=app password=s3cr3t dbname=x", "host=db user=app password=[redacted:conn_string_password] dbname=x"},
	{"libpq quoted", `host=db password='se cr\'et' port=5432`, `host=db password='[redacted:conn_string_password]' port=5432`},
	{"jdbc", "jdbc:postgresql://db/x?user=u&password=p4ss&ssl=true", "jdbc:postgresql://db/x?user=u&password=[redacted:conn_string_password]&ssl=true"},
	{"ado.net", "Server=tcp:x;User ID=u;Pwd=p4ss;Encrypt=true", "Server=tcp:x;User ID=u;Pwd=[redacted:conn_string_password];Encrypt=true"},
	{"ado.net spaced quoted", `Password = "a;b""c";`, `Password = "[redacted:conn_string_password]";`},
	{"env", "DB_PASSWORD=hunter2", "DB_PASSWORD=[redacted:conn_string_password]"},
	{"yaml", "password: hunter2\nuser: x", "password: [redacted:conn_string_password]\nuser: x"},
	{"escaped JSON in a log", `{\"password\":\"hunter2\"}`, `{\"password\":\"[redacted:conn_string_password]\"}`},
	{"sql create role", "CREATE ROLE app LOGIN PASSWORD 'it''s s3cret';", "CREATE ROLE app LOGIN PASSWORD '[redacted:conn_string_password]';"},
	{"sql user mapping", "OPTIONS (user 'u', password 'pw1')", "OPTIONS (user 'u', password '[redacted:conn_string_password]')"},
	{"neg: placeholders", `password: null, "password": "********", password=${PW}, password=?`, ""},
	{"neg: prose", "the password is required; reset password to continue", ""},

	// bearer_token
	{"bearer", "Authorization: Bearer abc123def456ghi", "Authorization: Bearer [redacted:bearer_token]"},
	{"bearer jwt", "Bearer " + testJWT, "Bearer [redacted:bearer_token]"},
	{"neg: bearer prose", "bearer authentication and Bearer tokens", ""},

	// sluice_token
	{"sluice token", "SLUICE_TOKEN=sluice_st_eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJjaSJ9.c2lnbmF0dXJl", "SLUICE_TOKEN=[redacted:sluice_token]"},

	// general hard negatives
	{"neg: uuid", "id 550e8400-e29b-41d4-a716-446655440000 and 12345678-1234-1234-1234-123456789012", ""},
	{"neg: git shas", "commit 3f786850e387550fdab836ed7e6dc881de23001b and 9b74c9897bac770ffc029102a200c5de23001b9b74c9897bac770ffc029102a2", ""},
	{"neg: dates and timestamps", "2024-01-15T10:30:45.123Z 2024-01-15 10:30:45+00 1705314645 1705314645123", ""},
	{"neg: base64 that is not a key", "SGVsbG8gV29ybGQh and q1w2e3r4t5y6u7i8o9p0q1w2e3r4t5y6u7i8o9p0ab== sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", ""},
	{"neg: long numeric ids", "user 98765432101234567 order 100000000000000001", ""},
	{"neg: prices and counts", "Total 1,234.56 EUR for 3 items at 12.50 each; 99.9% uptime", ""},
	{"neg: postal addresses", "1600 Amphitheatre Parkway, Mountain View, CA 94043", ""},
}

func allDetectors(t testing.TB) *Engine {
	t.Helper()
	e, err := New(Config{Sets: []string{"pii", "secrets"}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestDetectorCorpus(t *testing.T) {
	e := allDetectors(t)
	for _, tc := range detectorCorpus {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.out
			if want == "" {
				want = tc.in
			}
			var c Counts
			got := string(e.Text(nil, []byte(tc.in), &c))
			if got != want {
				t.Errorf("Text(%q)\n got %q\nwant %q", tc.in, got, want)
			}
			if got := e.String(tc.in); got != want {
				t.Errorf("String(%q)\n got %q\nwant %q", tc.in, got, want)
			}
			if n := strings.Count(want, "[redacted:"); uint64(n) != c.Total() {
				t.Errorf("counts %v, want %d hits", c.Map(), n)
			}
		})
	}
}

// TestDetectorCoverage checks that the corpus has a true positive for
// every detector.
func TestDetectorCoverage(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range detectorCorpus {
		for _, name := range Detectors() {
			if strings.Contains(tc.out, "[redacted:"+name+"]") {
				seen[name] = true
			}
		}
	}
	for _, name := range Detectors() {
		if !seen[name] {
			t.Errorf("no true positive for %s", name)
		}
	}
}

// TestDetectorIsolation runs each true positive with only its own
// detector on: detectors do not depend on each other.
func TestDetectorIsolation(t *testing.T) {
	for _, name := range Detectors() {
		e, err := New(Config{Detectors: []string{name}})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range detectorCorpus {
			if tc.out == "" || strings.Count(tc.out, "[redacted:") != strings.Count(tc.out, "[redacted:"+name+"]") {
				continue
			}
			if got := string(e.Text(nil, []byte(tc.in), nil)); got != tc.out {
				t.Errorf("%s alone: Text(%q) = %q, want %q", name, tc.in, got, tc.out)
			}
		}
	}
}

// TestOpenSecret checks which pieces of a stream hold a secret that goes
// on past them.
func TestOpenSecret(t *testing.T) {
	e := allDetectors(t)
	for _, tc := range []struct {
		b    string
		open bool
	}{
		{"-----BEGIN RSA PRIVATE KEY-----\n", true},
		{"key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNz\n", true},
		{pemRSA + "\n", false},
		{"-----BEGIN CERTIFICATE-----\n", false},
		{"plain text\n", false},
	} {
		if got := e.OpenSecret([]byte(tc.b)); got != tc.open {
			t.Errorf("%q: open %v, want %v", tc.b, got, tc.open)
		}
	}
	if (*Engine)(nil).OpenSecret([]byte("-----BEGIN RSA PRIVATE KEY-----\n")) {
		t.Error("a nil engine holds nothing back")
	}
	off, err := New(Config{Detectors: []string{"email"}})
	if err != nil {
		t.Fatal(err)
	}
	if off.OpenSecret([]byte("-----BEGIN RSA PRIVATE KEY-----\n")) {
		t.Error("an engine without the PEM detector holds nothing back")
	}
}
