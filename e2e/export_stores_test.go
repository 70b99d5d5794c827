package e2e

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/testkit/azurite"
	"github.com/sluicehq/sluice/internal/testkit/s3server"
)

// objectStores are the write-once stores an export test ships to: Azurite
// for Azure Blob and versitygw for S3.
type objectStores struct {
	az *azurite.Azurite
	s3 *s3server.Server
}

func newObjectStores(t *testing.T) *objectStores {
	return &objectStores{az: azurite.Start(t), s3: s3server.Start(t)}
}

// sinks are the stores' entries in audit.sinks.
func (o *objectStores) sinks() []map[string]any {
	return []map[string]any{
		{"name": "azure", "type": "azblob", "container_url": o.az.ContainerURL("evidence"), "account_name": azurite.AccountName,
			"account_key": azurite.AccountKey, "prefix": "gw1/", "create": true, "interval": "100ms"},
		{"name": "s3", "type": "s3", "endpoint": o.s3.Endpoint, "insecure": true, "region": o.s3.Region, "bucket": "evidence",
			"access_key": o.s3.AccessKey, "secret_key": o.s3.SecretKey, "prefix": "gw1/", "create": true, "interval": "100ms"},
	}
}

func (o *objectStores) names() []string { return []string{"azure", "s3"} }

func (o *objectStores) stop() {
	o.az.Stop()
	o.s3.Stop()
}

func (o *objectStores) restart() {
	o.az.Restart(context.Background())
	o.s3.Restart()
}

var verifiedRecords = regexp.MustCompile(`records:\s+(\d+) \(seq 1 to (\d+)\)`)

// verify checks each copy with `sluice audit verify --from`, with the
// published key and no access to the gateway's journal, and that it holds
// n records.
func (o *objectStores) verify(t *testing.T, cfg *sluiceConfig, n uint64) {
	t.Helper()
	key := cfg.run("audit", "key")
	if key.code != 0 {
		t.Fatalf("audit key: %s", key.stderr)
	}
	pub := strings.TrimSpace(key.stdout)
	for _, c := range []struct {
		url string
		env []string
	}{
		{"azure://" + azurite.AccountName + "/evidence/gw1?endpoint=" + o.az.BlobEndpoint(),
			[]string{"AZURE_STORAGE_KEY=" + azurite.AccountKey}},
		{"s3://evidence/gw1?endpoint=" + o.s3.Endpoint + "&insecure=1&region=" + o.s3.Region,
			[]string{"AWS_ACCESS_KEY_ID=" + o.s3.AccessKey, "AWS_SECRET_ACCESS_KEY=" + o.s3.SecretKey}},
	} {
		r := runSluice(t, append(c.env, "HOME="+t.TempDir()), "audit", "verify", "--from", c.url, "--key", pub)
		if r.code != 0 || !strings.Contains(r.stdout, "copy OK") {
			t.Errorf("verify %s: exit %d\n%s%s", c.url, r.code, r.stdout, r.stderr)
			continue
		}
		m := verifiedRecords.FindStringSubmatch(r.stdout)
		if m == nil {
			t.Errorf("verify %s: no record count in %s", c.url, r.stdout)
			continue
		}
		if got, _ := strconv.ParseUint(m[1], 10, 64); got != n {
			t.Errorf("copy %s holds %d records, the journal %d", c.url, got, n)
		}
	}
}
