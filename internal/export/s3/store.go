// Package s3 is an export.ObjectStore on an S3 bucket, of Amazon S3 or of
// any service that speaks its API (MinIO, Ceph RGW, versitygw, ...). The
// bucket may use S3 Object Lock, and the Store can put a retention on
// every object it writes.
//
// Objects are written once. Put first asks whether the object exists
// (HEAD) and then writes it in one request that is conditional on it not
// existing (If-None-Match: *), so on a service that honours the condition
// (Amazon S3 since August 2024, MinIO, versitygw) nothing the store
// writes is ever replaced, even by two writers racing. A service that
// refuses the condition as not implemented gets the plain write after
// the HEAD, for the rest of the Store's life; on it, and on a service
// that silently ignores the condition, two writers racing for the same
// name can both write, and the later copy wins (with Object Lock the
// earlier one stays as an older version). Sluice has one writer per
// prefix, and the archive it writes is checked against signed
// checkpoints, so a lost race shows on verification.
//
// Errors never hold the secret key or session token: the service's
// refusals become *ServiceError (status, code and message only), and the
// client signs requests in headers, never in URLs.
package s3

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/sluicehq/sluice/internal/export"
)

var _ export.ObjectStore = (*Store)(nil)

// MaxObjectBytes caps what Get reads: an object larger than this is
// refused rather than read into memory. Archive chunks are far smaller
// (export.DefaultChunkBytes).
const MaxObjectBytes = 256 << 20

// maxRetries is how often the client tries a request that failed in a way
// worth retrying (transport errors, 5xx, throttling), with a short backoff.
// The export runner retries failed exports itself, with its own backoff.
const maxRetries = 3

// Store is an export.ObjectStore on one S3 bucket, under Config.Prefix.
// It is safe for concurrent use.
type Store struct {
	client    *minio.Client
	transport *http.Transport
	bucket    string
	prefix    string
	lockMode  minio.RetentionMode
	retain    time.Duration

	// pageSize is the names per List request; 0 means the service's
	// default (1000 on Amazon S3). Set by tests.
	pageSize int
	// skipStat makes Put rely on the conditional write alone. Set by tests.
	skipStat bool
	// unconditional is set once the service refused If-None-Match as not
	// implemented.
	unconditional atomic.Bool
	closed        atomic.Bool
}

// Open validates c and builds the client. It makes no request, except to
// create the bucket with c.CreateBucket: a wrong credential, a missing
// bucket or one without Object Lock shows in the first call.
func Open(ctx context.Context, c Config) (*Store, error) {
	c.ObjectLockMode = strings.ToUpper(c.ObjectLockMode)
	if err := c.validate(); err != nil {
		return nil, err
	}
	tr, err := minio.DefaultTransport(c.Secure)
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	if c.CAFile != "" {
		pool, err := certPool(c.CAFile)
		if err != nil {
			return nil, err
		}
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	creds := credentials.NewStaticV4(c.AccessKey, c.SecretKey, c.SessionToken)
	if c.AccessKey == "" {
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{},
			&credentials.FileAWSCredentials{},
			&credentials.IAM{},
		})
	}
	client, err := minio.New(c.Endpoint, &minio.Options{
		Creds:      creds,
		Secure:     c.Secure,
		Transport:  tr,
		Region:     c.Region,
		MaxRetries: maxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("s3: Endpoint %q: %v", c.Endpoint, err)
	}
	s := &Store{
		client:    client,
		transport: tr,
		bucket:    c.Bucket,
		prefix:    c.Prefix,
		lockMode:  minio.RetentionMode(c.ObjectLockMode),
		retain:    c.ObjectLockRetain,
	}
	if c.CreateBucket {
		if err := s.createBucket(ctx, c.Region); err != nil {
			tr.CloseIdleConnections()
			return nil, err
		}
	}
	return s, nil
}

// certPool returns the system's CAs and those in file.
func certPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("s3: CAFile: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("s3: CAFile %s holds no PEM certificate", file)
	}
	return pool, nil
}

// createBucket creates the bucket, with Object Lock when the store puts
// retentions; a bucket this credential owns already is fine.
func (s *Store) createBucket(ctx context.Context, region string) error {
	err := s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: region, ObjectLocking: s.lockMode != ""})
	if code := minio.ToErrorResponse(err).Code; code == "BucketAlreadyOwnedByYou" {
		return nil
	}
	if err != nil {
		return s.wrapError("create bucket", "", err)
	}
	return nil
}

// Put writes data as the object Prefix+name, only if no such object
// exists; see the package documentation. An existing object makes Put
// return an error wrapping export.ErrExists and stays as it was. The
// request carries the data's Content-MD5, which the service checks, and,
// with Config.ObjectLockMode, the retention: mode and a retain-until date
// of now plus Config.ObjectLockRetain. Objects are written in one request,
// so data is limited to 5 GiB.
//
// When the client retries a Put whose first attempt was written but whose
// answer was lost, the retry reports ErrExists for the object this very
// Put wrote; callers that must tell the two apart compare content with Get.
func (s *Store) Put(ctx context.Context, name string, data []byte) error {
	if s.closed.Load() {
		return errClosed
	}
	key := s.prefix + name
	if err := checkKey(key); err != nil {
		return fmt.Errorf("s3: put %q: invalid name: %v", name, err)
	}
	if !s.skipStat {
		exists, err := s.exists(ctx, key)
		if err != nil {
			return err
		}
		if exists {
			return fmt.Errorf("s3: put %s/%s: %w", s.bucket, key, export.ErrExists)
		}
	}
	conditional := !s.unconditional.Load()
	err := s.put(ctx, key, data, conditional)
	if conditional && notImplemented(err) {
		// The HEAD above found no object; this is as good as it gets on
		// this service.
		s.unconditional.Store(true)
		err = s.put(ctx, key, data, false)
	}
	if err != nil {
		return s.wrapError("put", key, err)
	}
	return nil
}

// put makes one PutObject call.
func (s *Store) put(ctx context.Context, key string, data []byte, conditional bool) error {
	opts := minio.PutObjectOptions{
		ContentType:      "application/octet-stream",
		SendContentMd5:   true,
		DisableMultipart: true,
	}
	if s.lockMode != "" {
		opts.Mode = s.lockMode
		opts.RetainUntilDate = time.Now().Add(s.retain)
	}
	if conditional {
		opts.SetMatchETagExcept("*") // If-None-Match: *
	}
	_, err := s.client.PutObject(ctx, s.bucket, key, bytes.NewReader(data), int64(len(data)), opts)
	return err
}

// notImplemented reports whether err is the service's refusal of a header
// it does not implement, as If-None-Match on PUT was on Amazon S3 before
// August 2024.
func notImplemented(err error) bool {
	r := minio.ToErrorResponse(err)
	return r.Code == "NotImplemented" || r.StatusCode == http.StatusNotImplemented
}

// exists asks whether the object key exists. Only a failure to reach the
// service is an error: any other answer than the object's metadata means
// no, and the conditional write that follows keeps the object write-once
// and reports what is wrong with a message (HEAD answers have no body).
// A credential that may write but not read, a common policy for audit
// sinks, gets AccessDenied here.
func (s *Store) exists(ctx context.Context, key string) (bool, error) {
	_, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err == nil {
		return true, nil
	}
	var r minio.ErrorResponse
	if errors.As(err, &r) && r.StatusCode != 0 {
		return false, nil
	}
	return false, s.wrapError("stat", key, err)
}

// List returns the names of the objects under Prefix+prefix, relative to
// Prefix, in lexical (byte) order. It reads every page of the listing.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	full := s.prefix + prefix
	// Stops the lister's goroutine when the loop ends early.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var names []string
	for o := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: full, Recursive: true, MaxKeys: s.pageSize}) {
		if o.Err != nil {
			return nil, s.wrapError("list", full, o.Err)
		}
		n, ok := strings.CutPrefix(o.Key, s.prefix)
		if !ok || !strings.HasPrefix(o.Key, full) {
			return nil, fmt.Errorf("s3: list %s/%s: the service returned %q, outside the prefix", s.bucket, full, o.Key)
		}
		names = append(names, n)
	}
	// The service lists in this order already; sorting makes it a promise.
	slices.Sort(names)
	return names, nil
}

// Get returns the content of the object Prefix+name; a missing one gives
// an error wrapping fs.ErrNotExist. When the service keeps a whole-object
// checksum of it (Amazon S3 does for objects written since early 2025), the
// content is checked against it.
func (s *Store) Get(ctx context.Context, name string) ([]byte, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	key := s.prefix + name
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("s3: get %q: invalid name: %v", name, err)
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{Checksum: true})
	if err != nil {
		return nil, s.wrapError("get", key, err)
	}
	defer obj.Close()
	data, err := io.ReadAll(io.LimitReader(obj, MaxObjectBytes+1))
	if err != nil {
		return nil, s.wrapError("get", key, err)
	}
	if len(data) > MaxObjectBytes {
		return nil, fmt.Errorf("s3: get %s/%s: larger than %d bytes", s.bucket, key, MaxObjectBytes)
	}
	return data, nil
}

// Close releases the store's idle connections. Calls after Close fail;
// Close itself is idempotent.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.transport.CloseIdleConnections()
	return nil
}
