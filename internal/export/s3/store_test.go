package s3_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/sluicehq/sluice/internal/export"
	"github.com/sluicehq/sluice/internal/export/s3"
	"github.com/sluicehq/sluice/internal/testkit/s3server"
)

// config returns a Config for bucket on srv that creates the bucket.
func config(srv *s3server.Server, bucket, prefix string) s3.Config {
	return s3.Config{
		Endpoint:     srv.Endpoint,
		Region:       srv.Region,
		Bucket:       bucket,
		Prefix:       prefix,
		AccessKey:    srv.AccessKey,
		SecretKey:    srv.SecretKey,
		CreateBucket: true,
	}
}

func open(t *testing.T, c s3.Config) *s3.Store {
	t.Helper()
	st, err := s3.Open(t.Context(), c)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func mustPut(t *testing.T, st *s3.Store, name string, data []byte) {
	t.Helper()
	if err := st.Put(t.Context(), name, data); err != nil {
		t.Fatalf("Put %s: %v", name, err)
	}
}

func mustGet(t *testing.T, st *s3.Store, name string) []byte {
	t.Helper()
	b, err := st.Get(t.Context(), name)
	if err != nil {
		t.Fatalf("Get %s: %v", name, err)
	}
	return b
}

func mustList(t *testing.T, st *s3.Store, prefix string) []string {
	t.Helper()
	names, err := st.List(t.Context(), prefix)
	if err != nil {
		t.Fatalf("List %q: %v", prefix, err)
	}
	return names
}

// rawClient is a plain minio-go client of srv, to look at what the store
// wrote.
func rawClient(t *testing.T, srv *s3server.Server) *minio.Client {
	t.Helper()
	c, err := minio.New(srv.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""), Region: srv.Region})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRoundTrip(t *testing.T) {
	srv := s3server.Start(t)
	st := open(t, config(srv, "audit", "sluice/prod-1/"))
	objects := map[string][]byte{
		"segments/00000000000000000001.seg/00000000000000000001-00000000000000000009.chunk": []byte("chunk one"),
		"segments/00000000000000000001.seg/00000000000000000010-00000000000000000012.chunk": bytes.Repeat([]byte{0, 1, 2, 0xff}, 1<<16),
		"checkpoints/00000000000000000012.note":                                             []byte("sluice/journal\n12\nroot\n\n— sig\n"),
		"empty":                                                                             {},
	}
	for name, data := range objects {
		mustPut(t, st, name, data)
	}
	for name, want := range objects {
		if got := mustGet(t, st, name); !bytes.Equal(got, want) {
			t.Errorf("Get %s: %d bytes, want %d", name, len(got), len(want))
		}
	}

	all := mustList(t, st, "")
	want := slices.Sorted(maps.Keys(objects))
	if !slices.Equal(all, want) {
		t.Errorf("List(\"\") = %q, want %q", all, want)
	}
	if got := mustList(t, st, "segments/"); len(got) != 2 || !strings.HasPrefix(got[0], "segments/") {
		t.Errorf("List(segments/) = %q", got)
	}
	if got := mustList(t, st, "nothing/"); len(got) != 0 {
		t.Errorf("List(nothing/) = %q, want none", got)
	}

	// The keys carry the prefix; a store with another prefix sees none.
	root := open(t, config(srv, "audit", ""))
	keys := mustList(t, root, "")
	if len(keys) != len(objects) || !strings.HasPrefix(keys[0], "sluice/prod-1/") {
		t.Errorf("keys in the bucket = %q", keys)
	}
	if got := mustList(t, open(t, config(srv, "audit", "sluice/prod-2/")), ""); len(got) != 0 {
		t.Errorf("another prefix lists %q", got)
	}

	_, err := st.Get(t.Context(), "checkpoints/missing.note")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Get of a missing object: %v, want fs.ErrNotExist", err)
	}
}

func TestListPages(t *testing.T) {
	srv := s3server.Start(t)
	st := open(t, config(srv, "audit", "p/"))
	s3.SetListPageSize(st, 7)
	var want []string
	for i := range 30 {
		// Names whose byte order differs from their numeric order.
		name := fmt.Sprintf("n/%d", i)
		mustPut(t, st, name, []byte(name))
		want = append(want, name)
	}
	slices.Sort(want)
	if got := mustList(t, st, "n/"); !slices.Equal(got, want) {
		t.Errorf("List over pages of 7 = %q, want %q", got, want)
	}
	if got := mustList(t, st, "n/1"); len(got) != 11 { // 1, 10..19
		t.Errorf("List(n/1) = %q, want 11 names", got)
	}
}

func TestPutExisting(t *testing.T) {
	srv := s3server.Start(t)
	for _, tc := range []struct {
		name     string
		skipStat bool
	}{
		{"stat then conditional put", false},
		{"conditional put alone", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := open(t, config(srv, "audit", tc.name+"/"))
			if tc.skipStat {
				s3.SkipStat(st)
			}
			mustPut(t, st, "checkpoints/1.note", []byte("first"))
			err := st.Put(t.Context(), "checkpoints/1.note", []byte("second"))
			if !errors.Is(err, export.ErrExists) {
				t.Fatalf("second Put: %v, want ErrExists", err)
			}
			if got := mustGet(t, st, "checkpoints/1.note"); string(got) != "first" {
				t.Errorf("content after the second Put = %q, want the first", got)
			}
		})
	}
}

// TestPutRace shows that the service honours If-None-Match: of writers
// racing for one name (all past the HEAD check), exactly one wins.
func TestPutRace(t *testing.T) {
	srv := s3server.Start(t)
	st := open(t, config(srv, "audit", ""))
	s3.SkipStat(st)
	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() { errs[i] = st.Put(t.Context(), "race", []byte{byte(i)}) })
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("writers %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, export.ErrExists):
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer succeeded")
	}
	if got := mustGet(t, st, "race"); !bytes.Equal(got, []byte{byte(winner)}) {
		t.Errorf("content %v, want the winner's %d", got, winner)
	}
}

// TestConditionalNotImplemented puts a proxy in front of the server that
// refuses If-None-Match on PUT, as Amazon S3 did before August 2024: Put
// falls back to the plain write, and the HEAD check still finds existing
// objects.
func TestConditionalNotImplemented(t *testing.T) {
	srv := s3server.Start(t)
	var refused sync.Map
	target := &url.URL{Scheme: "http", Host: srv.Endpoint}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host // signed by the client
	}}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.Header.Get("If-None-Match") != "" {
			refused.Store(r.URL.Path, true)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusNotImplemented)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NotImplemented</Code>`+
				`<Message>A header you provided implies functionality that is not implemented</Message></Error>`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)

	c := config(srv, "audit", "")
	c.Endpoint = strings.TrimPrefix(front.URL, "http://")
	st := open(t, c)
	mustPut(t, st, "a", []byte("first"))
	mustPut(t, st, "b", []byte("other"))
	if err := st.Put(t.Context(), "a", []byte("second")); !errors.Is(err, export.ErrExists) {
		t.Fatalf("second Put: %v, want ErrExists", err)
	}
	if got := mustGet(t, st, "a"); string(got) != "first" {
		t.Errorf("content %q, want the first", got)
	}
	n := 0
	refused.Range(func(any, any) bool { n++; return true })
	if n != 1 {
		t.Errorf("%d conditional PUTs refused, want 1 (the store remembers)", n)
	}
}

func TestObjectLock(t *testing.T) {
	srv := s3server.Start(t)
	raw := rawClient(t, srv)
	for _, mode := range []string{s3.Governance, s3.Compliance} {
		t.Run(mode, func(t *testing.T) {
			c := config(srv, strings.ToLower(mode), "x/")
			c.ObjectLockMode, c.ObjectLockRetain = mode, 90*time.Minute
			st := open(t, c)
			before := time.Now()
			mustPut(t, st, "c/1.chunk", []byte("locked"))

			info, err := raw.StatObject(t.Context(), c.Bucket, "x/c/1.chunk", minio.StatObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := info.Metadata.Get("X-Amz-Object-Lock-Mode"); got != mode {
				t.Errorf("lock mode %q, want %q", got, mode)
			}
			until, err := time.Parse(time.RFC3339, info.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date"))
			if err != nil {
				t.Fatalf("retain-until: %v", err)
			}
			if lo, hi := before.Add(90*time.Minute-time.Second), time.Now().Add(90*time.Minute+time.Second); until.Before(lo) || until.After(hi) {
				t.Errorf("retain until %s, want about %s", until, before.Add(90*time.Minute))
			}
			// The service enforces it: the version cannot be deleted.
			err = raw.RemoveObject(t.Context(), c.Bucket, "x/c/1.chunk", minio.RemoveObjectOptions{VersionID: info.VersionID})
			if err == nil {
				t.Errorf("deleting a locked object version succeeded")
			}
			if got := mustGet(t, st, "c/1.chunk"); string(got) != "locked" {
				t.Errorf("content %q", got)
			}
		})
	}

	t.Run("bucket without object lock", func(t *testing.T) {
		open(t, config(srv, "nolock", "")) // creates the bucket
		c := config(srv, "nolock", "")
		c.ObjectLockMode, c.ObjectLockRetain, c.CreateBucket = s3.Governance, time.Hour, false
		locked := open(t, c)
		err := locked.Put(t.Context(), "a", []byte("x"))
		if err == nil {
			t.Fatal("Put with retention into a bucket without Object Lock succeeded")
		}
		if !strings.Contains(err.Error(), "ObjectLockMode needs a bucket created with Object Lock enabled") {
			t.Errorf("error %q does not explain", err)
		}
		if errors.Is(err, export.ErrExists) {
			t.Errorf("error wraps ErrExists: %v", err)
		}
		// versitygw v1.8.0 refuses the request but keeps the object
		// (Amazon S3 keeps nothing): no check of the bucket's content.
	})
}

func TestWrongCredential(t *testing.T) {
	srv := s3server.Start(t)
	open(t, config(srv, "audit", "")) // creates the bucket
	wrong := "wrong" + srv.SecretKey[5:]
	for _, tc := range []struct {
		name   string
		modify func(*s3.Config)
		want   string
	}{
		{"secret key", func(c *s3.Config) { c.SecretKey = wrong }, "SignatureDoesNotMatch"},
		// versitygw's code for an unknown key; Amazon S3's is InvalidAccessKeyId.
		{"access key", func(c *s3.Config) { c.AccessKey = "nobody" }, "XAdminUserNotFound"},
		{"session token", func(c *s3.Config) { c.SessionToken = "token-" + wrong }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := config(srv, "audit", "")
			c.CreateBucket = false
			tc.modify(&c)
			st := open(t, c)
			ctx := t.Context()
			_, listErr := st.List(ctx, "")
			_, getErr := st.Get(ctx, "a")
			for op, err := range map[string]error{
				"put":  st.Put(ctx, "a", []byte("x")),
				"list": listErr,
				"get":  getErr,
			} {
				if err == nil {
					t.Errorf("%s succeeded", op)
					continue
				}
				msg := err.Error()
				t.Logf("%s: %s", op, msg)
				for _, secret := range []string{srv.SecretKey, wrong, c.SessionToken} {
					if secret != "" && strings.Contains(msg, secret) {
						t.Errorf("%s error holds a secret: %s", op, msg)
					}
				}
				if tc.want != "" && (!strings.Contains(msg, tc.want) || !strings.Contains(msg, "credential rejected")) {
					t.Errorf("%s error %q does not say credential rejected (%s)", op, msg, tc.want)
				}
				if errors.Is(err, export.ErrExists) || errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s error is ErrExists or ErrNotExist: %v", op, err)
				}
			}
		})
	}
}

func TestStopAndRestart(t *testing.T) {
	srv := s3server.Start(t)
	st := open(t, config(srv, "audit", "j/"))
	mustPut(t, st, "checkpoints/1.note", []byte("one"))

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	start := time.Now()
	err := st.Put(ctx, "checkpoints/2.note", []byte("two"))
	if err == nil || errors.Is(err, export.ErrExists) {
		t.Fatalf("Put with the server down: %v, want a failure", err)
	}
	t.Logf("Put with the server down failed after %s: %v", time.Since(start).Round(time.Millisecond), err)
	if _, err := st.List(ctx, ""); err == nil {
		t.Error("List with the server down succeeded")
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	mustPut(t, st, "checkpoints/2.note", []byte("two"))
	if got := mustList(t, st, ""); !slices.Equal(got, []string{"checkpoints/1.note", "checkpoints/2.note"}) {
		t.Errorf("List after restart = %q", got)
	}
	if got := mustGet(t, st, "checkpoints/1.note"); string(got) != "one" {
		t.Errorf("object written before the restart: %q", got)
	}
	if err := st.Put(t.Context(), "checkpoints/1.note", []byte("uno")); !errors.Is(err, export.ErrExists) {
		t.Errorf("Put of an object written before the restart: %v, want ErrExists", err)
	}
}

func TestNames(t *testing.T) {
	srv := s3server.Start(t)
	st := open(t, config(srv, "audit", "p/"))
	for _, name := range []string{"", "/a", "a/", "a//b", "./a", "a/../b", "a\x00b", "a\nb", "\xff", strings.Repeat("x", 1100)} {
		if err := st.Put(t.Context(), name, []byte("x")); err == nil || errors.Is(err, export.ErrExists) {
			t.Errorf("Put(%q) = %v, want an invalid-name error", name, err)
		}
		if _, err := st.Get(t.Context(), name); err == nil {
			t.Errorf("Get(%q) succeeded", name)
		}
	}
	for _, name := range []string{"a", "a b/c-d_e.f", "ünïcode/名前", "x=1&y=2+3%20"} {
		mustPut(t, st, name, []byte(name))
		if got := mustGet(t, st, name); string(got) != name {
			t.Errorf("Get(%q) = %q", name, got)
		}
	}
	if got := mustList(t, st, ""); len(got) != 4 {
		t.Errorf("List = %q", got)
	}
}

func TestClose(t *testing.T) {
	srv := s3server.Start(t)
	st := open(t, config(srv, "audit", ""))
	mustPut(t, st, "a", []byte("x"))
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := st.Put(t.Context(), "b", nil); err == nil {
		t.Error("Put after Close succeeded")
	}
	if _, err := st.List(t.Context(), ""); err == nil {
		t.Error("List after Close succeeded")
	}
	if _, err := st.Get(t.Context(), "a"); err == nil {
		t.Error("Get after Close succeeded")
	}
}

func TestOpenValidates(t *testing.T) {
	const secret = "s3cr3t-never-in-errors"
	ok := s3.Config{Endpoint: "127.0.0.1:9", Bucket: "audit", AccessKey: "AK", SecretKey: secret}
	for _, tc := range []struct {
		modify func(*s3.Config)
		want   string // in the error
	}{
		{func(c *s3.Config) { c.Endpoint = "" }, "Endpoint is required"},
		{func(c *s3.Config) { c.Endpoint = "https://s3.amazonaws.com" }, "without a scheme"},
		{func(c *s3.Config) { c.Endpoint = "AK:" + secret + "@host" }, "without user information"},
		{func(c *s3.Config) { c.Endpoint = "host:99999" }, "bad port"},
		{func(c *s3.Config) { c.Endpoint = "::1" }, "not host[:port]"},
		{func(c *s3.Config) { c.Endpoint = "bad_host!" }, "bad host name"},
		{func(c *s3.Config) { c.Bucket = "" }, "Bucket is required"},
		{func(c *s3.Config) { c.Bucket = "Bad_Bucket" }, "Bucket"},
		{func(c *s3.Config) { c.Prefix = "/abs/" }, "Prefix"},
		{func(c *s3.Config) { c.Prefix = "a/../" }, "Prefix"},
		{func(c *s3.Config) { c.SecretKey = "" }, "SecretKey is empty"},
		{func(c *s3.Config) { c.AccessKey = "" }, "AccessKey is empty"},
		{func(c *s3.Config) { c.AccessKey, c.SecretKey, c.SessionToken = "", "", secret }, "SessionToken is set"},
		{func(c *s3.Config) { c.CAFile = "/nonexistent" }, "CAFile is set but Secure is not"},
		{func(c *s3.Config) { c.Secure, c.CAFile = true, "/nonexistent" }, "CAFile"},
		{func(c *s3.Config) { c.ObjectLockMode = "LEGAL" }, "ObjectLockMode"},
		{func(c *s3.Config) { c.ObjectLockMode = "GOVERNANCE" }, "ObjectLockRetain must be positive"},
		{func(c *s3.Config) { c.ObjectLockRetain = time.Hour }, "ObjectLockMode is empty"},
	} {
		c := ok
		tc.modify(&c)
		_, err := s3.Open(t.Context(), c)
		if err == nil {
			t.Errorf("Open(%v) succeeded", c)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%v) = %q, want it to say %q", c, err, tc.want)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error holds the secret: %v", err)
		}
	}

	// Valid configurations open without a request (port 9 is discard).
	for _, c := range []s3.Config{
		ok,
		{Endpoint: "s3.eu-west-1.amazonaws.com", Secure: true, Region: "eu-west-1", Bucket: "audit-logs.example", Prefix: "sluice/", ObjectLockMode: "compliance", ObjectLockRetain: time.Hour},
		{Endpoint: "[::1]:9000", Bucket: "abc", AccessKey: "a", SecretKey: "b", SessionToken: "c"},
	} {
		st, err := s3.Open(t.Context(), c)
		if err != nil {
			t.Errorf("Open(%v): %v", c, err)
			continue
		}
		st.Close()
	}

	if s := fmt.Sprint(ok); strings.Contains(s, secret) {
		t.Errorf("Config prints its secret: %s", s)
	}
	if s := fmt.Sprintf("%+v", ok); strings.Contains(s, secret) {
		t.Errorf("Config prints its secret: %s", s)
	}
}
