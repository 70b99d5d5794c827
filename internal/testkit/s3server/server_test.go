package s3server_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/sluicehq/sluice/internal/testkit/s3server"
)

func client(t *testing.T, srv *s3server.Server, secret string) *minio.Client {
	t.Helper()
	c, err := minio.New(srv.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(srv.AccessKey, secret, ""),
		Region:     srv.Region,
		MaxRetries: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestStartStopRestart(t *testing.T) {
	start := time.Now()
	srv := s3server.Start(t)
	t.Logf("started in %s on %s", time.Since(start).Round(time.Millisecond), srv.Endpoint)
	if !strings.HasPrefix(srv.Endpoint, "127.0.0.1:") || srv.AccessKey == "" || len(srv.SecretKey) < 20 {
		t.Fatalf("server %+v", srv)
	}
	ctx := t.Context()
	c := client(t, srv, srv.SecretKey)
	if err := c.MakeBucket(ctx, "bucket", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, "bucket", "a/b", strings.NewReader("hello"), 5, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client(t, srv, "not-"+srv.SecretKey).ListBuckets(ctx); err == nil {
		t.Error("a wrong secret key was accepted")
	}

	start = time.Now()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped in %s", time.Since(start).Round(time.Millisecond))
	if conn, err := net.DialTimeout("tcp", srv.Endpoint, time.Second); err == nil {
		conn.Close()
		t.Fatal("the port still accepts connections after Stop")
	}
	if err := srv.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}

	endpoint := srv.Endpoint
	start = time.Now()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted in %s", time.Since(start).Round(time.Millisecond))
	if srv.Endpoint != endpoint {
		t.Errorf("endpoint changed from %s to %s", endpoint, srv.Endpoint)
	}
	obj, err := c.GetObject(ctx, "bucket", "a/b", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if b, err := io.ReadAll(obj); err != nil || string(b) != "hello" {
		t.Errorf("object after restart: %q, %v", b, err)
	}
	// Restart of a running server stops it first.
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListBuckets(ctx); err != nil {
		t.Errorf("after a second restart: %v", err)
	}
}

// TestFeatures checks the server features sluice's S3 store relies on.
func TestFeatures(t *testing.T) {
	srv := s3server.Start(t)
	ctx := t.Context()
	c := client(t, srv, srv.SecretKey)
	if err := c.MakeBucket(ctx, "locked", minio.MakeBucketOptions{ObjectLocking: true}); err != nil {
		t.Fatal(err)
	}

	t.Run("Content-MD5 is checked", func(t *testing.T) {
		core := minio.Core{Client: c}
		wrongMD5 := "XUFAKrxLKna5cZ2REBfFkg==" // of "hello"
		_, err := core.PutObject(ctx, "locked", "md5", strings.NewReader("hullo"), 5, wrongMD5, "", minio.PutObjectOptions{})
		if err == nil {
			t.Error("a body that does not match its Content-MD5 was stored")
		}
		if _, err := core.PutObject(ctx, "locked", "md5", strings.NewReader("hello"), 5, wrongMD5, "", minio.PutObjectOptions{}); err != nil {
			t.Errorf("matching Content-MD5: %v", err)
		}
	})

	t.Run("If-None-Match", func(t *testing.T) {
		var opts minio.PutObjectOptions
		opts.SetMatchETagExcept("*")
		if _, err := c.PutObject(ctx, "locked", "once", bytes.NewReader([]byte("1")), 1, opts); err != nil {
			t.Fatal(err)
		}
		_, err := c.PutObject(ctx, "locked", "once", bytes.NewReader([]byte("2")), 1, opts)
		if r := minio.ToErrorResponse(err); r.StatusCode != 412 {
			t.Errorf("second conditional PUT: %v, want HTTP 412", err)
		}
	})

	t.Run("Object Lock retention", func(t *testing.T) {
		until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
		info, err := c.PutObject(ctx, "locked", "held", strings.NewReader("x"), 1,
			minio.PutObjectOptions{Mode: minio.Compliance, RetainUntilDate: until, SendContentMd5: true})
		if err != nil {
			t.Fatal(err)
		}
		st, err := c.StatObject(ctx, "locked", "held", minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if m := st.Metadata.Get("X-Amz-Object-Lock-Mode"); m != "COMPLIANCE" {
			t.Errorf("lock mode %q", m)
		}
		if u := st.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date"); u != until.Format(time.RFC3339) {
			t.Errorf("retain until %q, want %s", u, until.Format(time.RFC3339))
		}
		err = c.RemoveObject(ctx, "locked", "held", minio.RemoveObjectOptions{VersionID: info.VersionID, GovernanceBypass: true})
		if err == nil {
			t.Error("a version under COMPLIANCE retention was deleted")
		}
	})
}

// TestParallel starts servers side by side: each has its own port and
// data.
func TestParallel(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	for i := range 3 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			srv := s3server.Start(t)
			mu.Lock()
			if seen[srv.Endpoint] {
				t.Errorf("endpoint %s handed out twice", srv.Endpoint)
			}
			seen[srv.Endpoint] = true
			mu.Unlock()
			// A bucket of the same name in each: the data is not shared.
			if err := client(t, srv, srv.SecretKey).MakeBucket(t.Context(), "bucket", minio.MakeBucketOptions{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
