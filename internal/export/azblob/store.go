// Package azblob is an export.ObjectStore on an Azure Blob Storage
// container, which may be under a time-based immutability policy (write
// once, read many). Every object is a block blob written in one request
// that is conditional on the blob not existing, so nothing the store
// writes is ever replaced, with or without such a policy.
//
// Errors never hold the account key, the SAS token or the client secret:
// the service's refusals become *StatusError (HTTP status and error code
// only, no request URL, no response body) and every other error has URL
// queries and the configured secrets masked.
package azblob

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/sluicehq/sluice/internal/export"
)

var _ export.ObjectStore = (*Store)(nil)

// defaultTryTimeout bounds each attempt of a request when
// Config.TryTimeout is zero (the SDK's own default is no bound).
const defaultTryTimeout = time.Minute

// errClosed is returned by calls on a closed Store.
var errClosed = errors.New("azblob: store is closed")

// Store is an export.ObjectStore on one Azure Blob container, under
// Config.Prefix. It is safe for concurrent use.
type Store struct {
	client   *container.Client
	prefix   string
	redact   *redactor
	pageSize int32 // names per List request; 0 means the service's default (5000)
	closed   atomic.Bool
}

// Open validates c, builds the client and, with c.CreateContainer,
// creates the container if it is missing. Otherwise it makes no request:
// a wrong credential or a missing container shows in the first call.
func Open(ctx context.Context, c Config) (*Store, error) {
	kind, err := c.validate()
	if err != nil {
		return nil, err
	}
	r := newRedactor(c)
	tryTimeout := c.TryTimeout
	if tryTimeout == 0 {
		tryTimeout = defaultTryTimeout
	}
	opts := &container.ClientOptions{ClientOptions: policy.ClientOptions{
		Retry: policy.RetryOptions{MaxRetries: int32(c.MaxRetries), TryTimeout: tryTimeout},
	}}
	var client *container.Client
	switch kind {
	case authConnectionString:
		client, err = container.NewClientFromConnectionString(c.ConnectionString, c.Container, opts)
		if err != nil {
			// The SDK's message may quote parts of the string.
			return nil, errors.New("azblob: ConnectionString is malformed (expected AccountName=...;AccountKey=...;BlobEndpoint=... or EndpointSuffix=...)")
		}
	case authSharedKey:
		cred, cerr := container.NewSharedKeyCredential(c.AccountName, c.AccountKey)
		if cerr != nil {
			return nil, errors.New("azblob: AccountKey is not a base64 storage account key")
		}
		client, err = container.NewClientWithSharedKeyCredential(c.ContainerURL, cred, opts)
	case authSAS:
		client, err = container.NewClientWithNoCredential(c.ContainerURL+"?"+strings.TrimPrefix(c.SAS, "?"), opts)
	case authEntra:
		var cred azcore.TokenCredential
		cred, err = entraCredential(c.Entra)
		if err != nil {
			return nil, r.error("open", "", err)
		}
		client, err = container.NewClient(c.ContainerURL, cred, opts)
	}
	if err != nil {
		return nil, r.error("open", "", err)
	}
	s := &Store{client: client, prefix: c.Prefix, redact: r}
	if c.CreateContainer {
		if err := s.createContainer(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func entraCredential(e *Entra) (azcore.TokenCredential, error) {
	var o azidentity.ClientSecretCredentialOptions
	if e.AuthorityHost != "" {
		o.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: e.AuthorityHost}
	}
	cred, err := azidentity.NewClientSecretCredential(e.TenantID, e.ClientID, e.ClientSecret, &o)
	if err != nil {
		return nil, fmt.Errorf("Entra credential: %w", err)
	}
	return cred, nil
}

// createContainer creates the container; one that exists already is fine.
func (s *Store) createContainer(ctx context.Context) error {
	_, err := s.client.Create(ctx, nil)
	if err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return s.redact.error("create container", "", err)
	}
	return nil
}

// Put writes data as the blob Prefix+name, only if no such blob exists
// (If-None-Match: *). An existing blob, or one an immutability policy or
// legal hold protects, makes Put return a *StatusError wrapping
// export.ErrExists and stays as it was. The service checks the Content-MD5
// sent along and stores it, so Get can check it too.
//
// When the SDK retries a Put whose first attempt was written but whose
// answer was lost, the retry reports ErrExists for the blob this very Put
// wrote; callers that must tell the two apart compare content with Get.
func (s *Store) Put(ctx context.Context, name string, data []byte) error {
	if s.closed.Load() {
		return errClosed
	}
	full := s.prefix + name
	if err := checkName(name, full); err != nil {
		return err
	}
	sum := md5.Sum(data)
	_, err := s.client.NewBlockBlobClient(full).Upload(ctx, streaming.NopCloser(bytes.NewReader(data)), &blockblob.UploadOptions{
		TransactionalValidation: blob.TransferValidationTypeMD5(sum[:]),
		HTTPHeaders: &blob.HTTPHeaders{
			BlobContentType: ptr("application/octet-stream"),
			BlobContentMD5:  sum[:],
		},
		AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{
			IfNoneMatch: ptr(azcore.ETagAny),
		}},
	})
	if err != nil {
		return s.redact.error("put", full, err)
	}
	return nil
}

// List returns the names of the blobs under Prefix+prefix, relative to
// Prefix, in lexical (byte) order. It reads every page of the listing.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	full := s.prefix + prefix
	opts := &container.ListBlobsFlatOptions{Prefix: &full}
	if s.pageSize > 0 {
		opts.MaxResults = &s.pageSize
	}
	var names []string
	pager := s.client.NewListBlobsFlatPager(opts)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, s.redact.error("list", full, err)
		}
		if page.Segment == nil {
			continue
		}
		for _, b := range page.Segment.BlobItems {
			if b == nil || b.Name == nil {
				continue
			}
			n, ok := strings.CutPrefix(*b.Name, s.prefix)
			if !ok {
				return nil, fmt.Errorf("azblob: list %s: service returned %q outside the prefix", full, *b.Name)
			}
			names = append(names, n)
		}
	}
	// The service lists in this order already; sorting makes it a promise.
	slices.Sort(names)
	return names, nil
}

// Get returns the content of the blob Prefix+name. If the blob has a
// stored Content-MD5 (every blob Put wrote has), the content is checked
// against it.
func (s *Store) Get(ctx context.Context, name string) ([]byte, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	full := s.prefix + name
	if err := checkName(name, full); err != nil {
		return nil, err
	}
	resp, err := s.client.NewBlobClient(full).DownloadStream(ctx, nil)
	if err != nil {
		return nil, s.redact.error("get", full, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, s.redact.error("get", full, err)
	}
	if len(resp.ContentMD5) > 0 {
		if sum := md5.Sum(data); !bytes.Equal(sum[:], resp.ContentMD5) {
			return nil, fmt.Errorf("azblob: get %s: content does not match its Content-MD5", full)
		}
	}
	return data, nil
}

// Close marks the store closed; later calls fail. The SDK's HTTP
// connections are shared and idle ones close on their own. Close is
// idempotent and always returns nil.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}

// checkName rejects names Azure cannot store: empty, a blob name (full,
// with the prefix) longer than 1024 characters, or ending in "." or "/".
func checkName(name, full string) error {
	switch {
	case name == "":
		return errors.New("azblob: empty object name")
	case utf8.RuneCountInString(full) > 1024:
		return fmt.Errorf("azblob: blob name of %d characters is longer than 1024", utf8.RuneCountInString(full))
	case strings.HasSuffix(name, ".") || strings.HasSuffix(name, "/"):
		return fmt.Errorf("azblob: object name %q must not end in \".\" or \"/\"", name)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
