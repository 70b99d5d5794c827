package azblob_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/sluicehq/sluice/internal/export"
	exportazblob "github.com/sluicehq/sluice/internal/export/azblob"
	"github.com/sluicehq/sluice/internal/testkit/azurite"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// open opens a store on az and closes it when the test ends.
func open(t *testing.T, ctx context.Context, c exportazblob.Config) *exportazblob.Store {
	t.Helper()
	s, err := exportazblob.Open(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func connConfig(az *azurite.Azurite, containerName, prefix string) exportazblob.Config {
	return exportazblob.Config{
		ConnectionString: az.ConnectionString(),
		Container:        containerName,
		Prefix:           prefix,
		CreateContainer:  true,
		MaxRetries:       -1,
	}
}

// containerSAS signs a SAS for containerName with the development key.
func containerSAS(t *testing.T, containerName string, perms sas.ContainerPermissions) string {
	t.Helper()
	cred, err := container.NewSharedKeyCredential(azurite.AccountName, azurite.AccountKey)
	if err != nil {
		t.Fatal(err)
	}
	q, err := sas.BlobSignatureValues{
		Protocol:      sas.ProtocolHTTPSandHTTP,
		StartTime:     time.Now().Add(-time.Hour).UTC(),
		ExpiryTime:    time.Now().Add(time.Hour).UTC(),
		Permissions:   perms.String(),
		ContainerName: containerName,
	}.SignWithSharedKey(cred)
	if err != nil {
		t.Fatal(err)
	}
	return q.Encode()
}

// sigOf returns the signature of a SAS token, as it appears in it.
func sigOf(t *testing.T, token string) string {
	for _, p := range strings.Split(token, "&") {
		if v, ok := strings.CutPrefix(p, "sig="); ok {
			return v
		}
	}
	t.Fatalf("no sig in SAS %q", token)
	return ""
}

// assertNoSecret fails t if err's text holds any of secrets.
func assertNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Fatalf("error text holds a secret: %v", err)
		}
	}
}

func TestRoundTripPaged(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	az := azurite.Start(t)
	s := open(t, ctx, connConfig(az, "audit", "sluice/prod-1/"))
	exportazblob.SetListPageSize(s, 7)

	var want []string
	for i := range 30 {
		var name string
		switch i % 3 {
		case 0:
			name = fmt.Sprintf("segments/%08d.chunk", i)
		case 1:
			name = fmt.Sprintf("checkpoints/%08d.json", i)
		default:
			name = fmt.Sprintf("odd names/a+b %%20 é #%d", i)
		}
		data := bytes.Repeat([]byte{byte(i)}, i*100)
		if err := s.Put(ctx, name, data); err != nil {
			t.Fatalf("put %q: %v", name, err)
		}
		got, err := s.Get(ctx, name)
		if err != nil {
			t.Fatalf("get %q: %v", name, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("get %q: %d bytes, want %d", name, len(got), len(data))
		}
		want = append(want, name)
	}
	slices.Sort(want)

	// A blob outside the prefix is not listed.
	other := open(t, ctx, connConfig(az, "audit", "sluice/prod-2/"))
	if err := other.Put(ctx, "segments/00000000.chunk", []byte("other")); err != nil {
		t.Fatal(err)
	}

	got, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("List:\n got %q\nwant %q", got, want)
	}
	// Azurite honours the page size, so List above followed markers.
	c, err := container.NewClientFromConnectionString(az.ConnectionString(), "audit", nil)
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{MaxResults: ptr(int32(7))}).NextPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Segment.BlobItems) != 7 || page.NextMarker == nil || *page.NextMarker == "" {
		t.Fatalf("first page of 7: %d names, next marker %v", len(page.Segment.BlobItems), page.NextMarker)
	}
	got, err = s.List(ctx, "segments/")
	if err != nil {
		t.Fatal(err)
	}
	var wantSeg []string
	for _, n := range want {
		if strings.HasPrefix(n, "segments/") {
			wantSeg = append(wantSeg, n)
		}
	}
	if !slices.Equal(got, wantSeg) {
		t.Fatalf("List(segments/):\n got %q\nwant %q", got, wantSeg)
	}
	if got, err := s.List(ctx, "nothing/"); err != nil || len(got) != 0 {
		t.Fatalf("List(nothing/) = %q, %v; want none", got, err)
	}
}

func TestPutStoresContentMD5(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	az := azurite.Start(t)
	s := open(t, ctx, connConfig(az, "audit", "p/"))
	data := []byte("checkpoint 1")
	if err := s.Put(ctx, "x", data); err != nil {
		t.Fatal(err)
	}
	c, err := container.NewClientFromConnectionString(az.ConnectionString(), "audit", nil)
	if err != nil {
		t.Fatal(err)
	}
	props, err := c.NewBlobClient("p/x").GetProperties(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum := md5.Sum(data); !bytes.Equal(props.ContentMD5, sum[:]) {
		t.Fatalf("stored Content-MD5 %x, want %x", props.ContentMD5, sum)
	}
}

func TestPutExistingKeepsFirst(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	az := azurite.Start(t)
	s := open(t, ctx, connConfig(az, "audit", "sluice/"))
	if err := s.Put(ctx, "seg/1", []byte("first")); err != nil {
		t.Fatal(err)
	}
	err := s.Put(ctx, "seg/1", []byte("second"))
	if !errors.Is(err, export.ErrExists) {
		t.Fatalf("second put: %v, want ErrExists", err)
	}
	var se *exportazblob.StatusError
	if !errors.As(err, &se) || (se.StatusCode != 409 && se.StatusCode != 412) {
		t.Fatalf("second put: %#v, want a StatusError with 409 or 412", err)
	}
	t.Logf("second put: %v", err)
	got, err := s.Get(ctx, "seg/1")
	if err != nil || string(got) != "first" {
		t.Fatalf("get = %q, %v; want \"first\"", got, err)
	}
}

func TestConcurrentPutsOneWins(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	az := azurite.Start(t)
	s := open(t, ctx, connConfig(az, "audit", ""))
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = s.Put(ctx, "same", []byte{byte(i)}) })
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("puts %d and %d both succeeded", winner, i)
			}
			winner = i
		case !errors.Is(err, export.ErrExists):
			t.Fatalf("put %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no put succeeded")
	}
	got, err := s.Get(ctx, "same")
	if err != nil || !bytes.Equal(got, []byte{byte(winner)}) {
		t.Fatalf("get = %v, %v; want the winner's %d", got, err, winner)
	}
}

func TestGetMissing(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	az := azurite.Start(t)
	s := open(t, ctx, connConfig(az, "audit", "p/"))
	_, err := s.Get(ctx, "missing")
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, export.ErrExists) {
		t.Fatalf("get missing: %v, want fs.ErrNotExist", err)
	}
}

func TestMissingContainer(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	az := azurite.Start(t)
	c := connConfig(az, "absent", "")
	c.CreateContainer = false
	s := open(t, ctx, c)
	err := s.Put(ctx, "x", []byte("x"))
	var se *exportazblob.StatusError
	if !errors.As(err, &se) || se.Code != "ContainerNotFound" || errors.Is(err, export.ErrExists) {
		t.Fatalf("put into missing container: %v, want ContainerNotFound", err)
	}
	if !strings.Contains(err.Error(), "container does not exist") {
		t.Fatalf("error does not say the container is missing: %v", err)
	}
}

func TestAuthSharedKey(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	az := azurite.Start(t)
	s := open(t, ctx, exportazblob.Config{
		ContainerURL:    az.ContainerURL("audit"),
		Prefix:          "k/",
		AccountName:     azurite.AccountName,
		AccountKey:      azurite.AccountKey,
		CreateContainer: true,
		MaxRetries:      -1,
	})
	roundTrip(t, ctx, s)
}

func TestAuthSAS(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	az := azurite.Start(t)
	open(t, ctx, connConfig(az, "audit", "")) // creates the container
	token := containerSAS(t, "audit", sas.ContainerPermissions{Read: true, Create: true, Write: true, List: true})
	s := open(t, ctx, exportazblob.Config{
		ContainerURL: az.ContainerURL("audit"),
		Prefix:       "sas/",
		SAS:          "?" + token,
		MaxRetries:   -1,
	})
	roundTrip(t, ctx, s)
	if err := s.Put(ctx, "a", []byte("again")); !errors.Is(err, export.ErrExists) {
		t.Fatalf("put existing with SAS: %v, want ErrExists", err)
	}

	// A read-only SAS may not write; the error names the cause and not the
	// signature.
	ro := containerSAS(t, "audit", sas.ContainerPermissions{Read: true, List: true})
	rs := open(t, ctx, exportazblob.Config{ContainerURL: az.ContainerURL("audit"), SAS: ro, MaxRetries: -1})
	err := rs.Put(ctx, "ro", []byte("x"))
	var se *exportazblob.StatusError
	if !errors.As(err, &se) || se.StatusCode != 403 || errors.Is(err, export.ErrExists) {
		t.Fatalf("put with read-only SAS: %v, want HTTP 403", err)
	}
	assertNoSecret(t, err, ro, sigOf(t, ro))
	t.Logf("put with read-only SAS: %v", err)
}

func TestWrongCredentials(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	az := azurite.Start(t)
	open(t, ctx, connConfig(az, "audit", ""))
	wrongKey := "d3Jvbmcga2V5IHdyb25nIGtleSB3cm9uZyBrZXkgd3Jvbmcga2V5IHdyb25nIGtleSB3cm9uZw=="

	t.Run("shared key", func(t *testing.T) {
		s := open(t, ctx, exportazblob.Config{
			ContainerURL: az.ContainerURL("audit"),
			AccountName:  azurite.AccountName,
			AccountKey:   wrongKey,
			MaxRetries:   -1,
		})
		for _, err := range []error{
			s.Put(ctx, "x", []byte("x")),
			func() error { _, err := s.Get(ctx, "x"); return err }(),
			func() error { _, err := s.List(ctx, ""); return err }(),
		} {
			var se *exportazblob.StatusError
			if !errors.As(err, &se) || se.StatusCode != 403 {
				t.Fatalf("with a wrong key: %v, want HTTP 403", err)
			}
			if !strings.Contains(err.Error(), "credential rejected") {
				t.Fatalf("error does not say the credential was rejected: %v", err)
			}
			assertNoSecret(t, err, wrongKey, azurite.AccountKey)
		}
	})

	t.Run("connection string", func(t *testing.T) {
		cs := strings.Replace(az.ConnectionString(), azurite.AccountKey, wrongKey, 1)
		s := open(t, ctx, exportazblob.Config{ConnectionString: cs, Container: "audit", MaxRetries: -1})
		err := s.Put(ctx, "x", []byte("x"))
		var se *exportazblob.StatusError
		if !errors.As(err, &se) || se.StatusCode != 403 {
			t.Fatalf("with a wrong key: %v, want HTTP 403", err)
		}
		assertNoSecret(t, err, wrongKey)
	})

	t.Run("tampered SAS", func(t *testing.T) {
		token := containerSAS(t, "audit", sas.ContainerPermissions{Read: true, Create: true, Write: true, List: true})
		sig := sigOf(t, token)
		bad := strings.Replace(token, "sig="+sig, "sig=AAAA"+sig[4:], 1)
		s := open(t, ctx, exportazblob.Config{ContainerURL: az.ContainerURL("audit"), SAS: bad, MaxRetries: -1})
		err := s.Put(ctx, "x", []byte("x"))
		var se *exportazblob.StatusError
		if !errors.As(err, &se) || se.StatusCode != 403 {
			t.Fatalf("with a tampered SAS: %v, want HTTP 403", err)
		}
		assertNoSecret(t, err, bad, "AAAA"+sig[4:])
	})
}

// roundTrip puts, gets and lists two objects through s.
func roundTrip(t *testing.T, ctx context.Context, s *exportazblob.Store) {
	t.Helper()
	for _, n := range []string{"b", "a"} {
		if err := s.Put(ctx, n, []byte("data "+n)); err != nil {
			t.Fatalf("put %s: %v", n, err)
		}
	}
	got, err := s.Get(ctx, "a")
	if err != nil || string(got) != "data a" {
		t.Fatalf("get a = %q, %v", got, err)
	}
	names, err := s.List(ctx, "")
	if err != nil || !slices.Equal(names, []string{"a", "b"}) {
		t.Fatalf("list = %q, %v; want [a b]", names, err)
	}
}

func TestSinkDownAndBack(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	az := azurite.Start(t)
	open(t, ctx, connConfig(az, "audit", ""))
	token := containerSAS(t, "audit", sas.ContainerPermissions{Read: true, Create: true, Write: true, List: true})
	s := open(t, ctx, exportazblob.Config{ContainerURL: az.ContainerURL("audit"), Prefix: "j/", SAS: token, MaxRetries: -1})

	if err := s.Put(ctx, "1", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := az.Stop(); err != nil {
		t.Fatal(err)
	}
	err := s.Put(ctx, "2", []byte("two"))
	if err == nil || errors.Is(err, export.ErrExists) {
		t.Fatalf("put while the sink is down: %v, want a transport error", err)
	}
	// The transport error quotes the request URL, whose query holds the
	// SAS; it must be masked.
	assertNoSecret(t, err, token, sigOf(t, token))
	t.Logf("put while down: %v", err)
	if _, err := s.List(ctx, ""); err == nil {
		t.Fatal("list while the sink is down succeeded")
	}

	if err := az.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "2", []byte("two")); err != nil {
		t.Fatalf("put after restart: %v", err)
	}
	names, err := s.List(ctx, "")
	if err != nil || !slices.Equal(names, []string{"1", "2"}) {
		t.Fatalf("list after restart = %q, %v; want [1 2]", names, err)
	}
	if got, err := s.Get(ctx, "1"); err != nil || string(got) != "one" {
		t.Fatalf("get 1 after restart = %q, %v", got, err)
	}
}

func TestContextDeadline(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	az := azurite.Start(t)
	s := open(t, ctx, connConfig(az, "audit", ""))
	done, cancel := context.WithCancel(ctx)
	cancel()
	err := s.Put(done, "x", []byte("x"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("put with a canceled context: %v, want context.Canceled", err)
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	az := azurite.Start(t)
	s, err := exportazblob.Open(ctx, connConfig(az, "audit", ""))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Put(ctx, "x", nil); err == nil {
		t.Fatal("put after Close succeeded")
	}
}

// TestParseURLAgainstAzurite sets environment variables, so it cannot run
// in parallel.
func TestParseURLAgainstAzurite(t *testing.T) {
	ctx := testContext(t)
	az := azurite.Start(t)
	open(t, ctx, connConfig(az, "audit", ""))
	writer := open(t, ctx, connConfig(az, "audit", "sluice/prod-1/"))
	if err := writer.Put(ctx, "seg/1", []byte("one")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, url string
		env       map[string]string
	}{
		{"key and endpoint parameter", "azure://devstoreaccount1/audit/sluice/prod-1?endpoint=" + az.BlobEndpoint(),
			map[string]string{exportazblob.EnvAccountKey: azurite.AccountKey}},
		{"key and endpoint variable without account", "azure://devstoreaccount1/audit/sluice/prod-1",
			map[string]string{exportazblob.EnvAccountKey: azurite.AccountKey, exportazblob.EnvEndpoint: "http://" + az.Addr()}},
		{"SAS", "azure://devstoreaccount1/audit/sluice/prod-1/?endpoint=" + az.BlobEndpoint(),
			map[string]string{exportazblob.EnvSASToken: containerSAS(t, "audit", sas.ContainerPermissions{Read: true, List: true})}},
		{"connection string", "azure://devstoreaccount1/audit/sluice/prod-1",
			map[string]string{exportazblob.EnvConnectionString: az.ConnectionString()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{exportazblob.EnvEndpoint, exportazblob.EnvConnectionString, exportazblob.EnvAccountKey,
				exportazblob.EnvSASToken, exportazblob.EnvTenantID, exportazblob.EnvClientID, exportazblob.EnvClientSecret} {
				t.Setenv(k, tt.env[k])
			}
			c, err := exportazblob.ParseURL(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			s := open(t, ctx, c)
			names, err := s.List(ctx, "")
			if err != nil || !slices.Equal(names, []string{"seg/1"}) {
				t.Fatalf("list = %q, %v; want [seg/1]", names, err)
			}
			if got, err := s.Get(ctx, "seg/1"); err != nil || string(got) != "one" {
				t.Fatalf("get = %q, %v", got, err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
