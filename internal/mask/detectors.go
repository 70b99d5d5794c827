package mask

import "slices"

// kind identifies a built-in detector. The order is the order of Counts.
type kind uint8

const (
	kEmail kind = iota
	kPhone
	kCard
	kIBAN
	kSSN
	kIP
	kJWT
	kPEM
	kAWSKeyID
	kAWSSecret
	kGitHub
	kGitLab
	kSlack
	kStripe
	kGoogle
	kAzureKey
	kAzureSAS
	kAzureConn
	kURLPassword
	kConnPassword
	kBearer
	kSluice
	numKinds

	// Counters that are not detectors.
	kColumnRule = numKinds
	kPathRule   = numKinds + 1
	numCounters = numKinds + 2
)

// kindNames are the stable names of the built-in detectors (and of the
// two rule counters), used in config, placeholders and Counts.
var kindNames = [numCounters]string{
	kEmail:        "email",
	kPhone:        "phone",
	kCard:         "payment_card",
	kIBAN:         "iban",
	kSSN:          "us_ssn",
	kIP:           "ip",
	kJWT:          "jwt",
	kPEM:          "pem_private_key",
	kAWSKeyID:     "aws_access_key_id",
	kAWSSecret:    "aws_secret_key",
	kGitHub:       "github_token",
	kGitLab:       "gitlab_token",
	kSlack:        "slack_token",
	kStripe:       "stripe_key",
	kGoogle:       "google_api_key",
	kAzureKey:     "azure_storage_key",
	kAzureSAS:     "azure_sas",
	kAzureConn:    "azure_connection_string",
	kURLPassword:  "url_password",
	kConnPassword: "conn_string_password",
	kBearer:       "bearer_token",
	kSluice:       "sluice_token",
	kColumnRule:   "column_rule",
	kPathRule:     "json_path_rule",
}

// placeholders holds "[redacted:<name>]" for every counter.
var placeholders = func() (p [numCounters][]byte) {
	for k := range p {
		p[k] = []byte("[redacted:" + kindNames[k] + "]")
	}
	return p
}()

var plainPlaceholder = []byte("[redacted]")

// sets maps a detector set name to its detectors.
var sets = map[string][]kind{
	"pii": {kEmail, kPhone, kCard, kIBAN, kSSN, kIP},
	"secrets": {kJWT, kPEM, kAWSKeyID, kAWSSecret, kGitHub, kGitLab, kSlack, kStripe,
		kGoogle, kAzureKey, kAzureSAS, kAzureConn, kURLPassword, kConnPassword, kBearer, kSluice},
}

// Sets returns the names of the detector sets, sorted.
func Sets() []string {
	names := make([]string, 0, len(sets))
	for n := range sets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// SetDetectors returns the detector names of a set, or nil if there is no
// such set.
func SetDetectors(set string) []string {
	ks, ok := sets[set]
	if !ok {
		return nil
	}
	names := make([]string, len(ks))
	for i, k := range ks {
		names[i] = kindNames[k]
	}
	return names
}

// Detectors returns the names of all built-in detectors in a stable order.
func Detectors() []string {
	names := make([]string, numKinds)
	for k := range numKinds {
		names[k] = kindNames[k]
	}
	return names
}

// kindByName returns the detector with the given name.
func kindByName(name string) (kind, bool) {
	for k := range numKinds {
		if kindNames[k] == name {
			return kind(k), true
		}
	}
	return 0, false
}
