package azurite_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/sluicehq/sluice/internal/testkit/azurite"
)

func newContainer(t *testing.T, az *azurite.Azurite, name string) *container.Client {
	t.Helper()
	opts := &container.ClientOptions{ClientOptions: policy.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}}}
	c, err := container.NewClientFromConnectionString(az.ConnectionString(), name, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func put(ctx context.Context, c *container.Client, name, data string) error {
	_, err := c.NewBlockBlobClient(name).Upload(ctx, streaming.NopCloser(bytes.NewReader([]byte(data))), nil)
	return err
}

func get(ctx context.Context, c *container.Client, name string) (string, error) {
	resp, err := c.NewBlobClient(name).DownloadStream(ctx, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestStartStopRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	az := azurite.Start(t)
	if az.Port() == 0 || az.ContainerURL("one") != az.BlobEndpoint()+"/one" {
		t.Fatalf("port %d, container URL %s", az.Port(), az.ContainerURL("one"))
	}
	c := newContainer(t, az, "one")
	if _, err := c.Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := put(ctx, c, "a/b", "before"); err != nil {
		t.Fatal(err)
	}

	if err := az.Stop(); err != nil {
		t.Fatal(err)
	}
	if conn, err := net.DialTimeout("tcp", az.Addr(), time.Second); err == nil {
		conn.Close()
		t.Fatalf("%s still accepts connections after Stop", az.Addr())
	}
	if err := az.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if err := put(ctx, c, "a/c", "while down"); err == nil {
		t.Fatal("put succeeded while Azurite was stopped")
	}

	port := az.Port()
	if err := az.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if az.Port() != port {
		t.Fatalf("port changed from %d to %d", port, az.Port())
	}
	if got, err := get(ctx, c, "a/b"); err != nil || got != "before" {
		t.Fatalf("after restart: got %q, %v; want \"before\"", got, err)
	}
	if err := put(ctx, c, "a/c", "after"); err != nil {
		t.Fatal(err)
	}
	// Restart of a running Azurite stops it first.
	if err := az.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := get(ctx, c, "a/c"); err != nil || got != "after" {
		t.Fatalf("after second restart: got %q, %v; want \"after\"", got, err)
	}
}

func TestParallelInstances(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var azs [2]*azurite.Azurite
	for i := range azs {
		azs[i] = azurite.Start(t)
	}
	if azs[0].Port() == azs[1].Port() || azs[0].DataDir() == azs[1].DataDir() {
		t.Fatalf("two instances share port %d or data %s", azs[0].Port(), azs[0].DataDir())
	}
	// Each has its own data.
	c0, c1 := newContainer(t, azs[0], "same"), newContainer(t, azs[1], "same")
	for _, c := range []*container.Client{c0, c1} {
		if _, err := c.Create(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := put(ctx, c0, "x", "only in 0"); err != nil {
		t.Fatal(err)
	}
	if _, err := get(ctx, c1, "x"); err == nil {
		t.Fatal("blob written to one instance is visible in the other")
	}
}

func TestClosedAfterCleanup(t *testing.T) {
	var az *azurite.Azurite
	t.Run("inner", func(t *testing.T) { az = azurite.Start(t) })
	if err := az.Stop(); !errors.Is(err, azurite.ErrClosed) {
		t.Fatalf("Stop after cleanup: %v, want ErrClosed", err)
	}
	if err := az.Restart(t.Context()); !errors.Is(err, azurite.ErrClosed) {
		t.Fatalf("Restart after cleanup: %v, want ErrClosed", err)
	}
	if conn, err := net.DialTimeout("tcp", az.Addr(), time.Second); err == nil {
		conn.Close()
		t.Fatalf("%s still accepts connections after cleanup", az.Addr())
	}
}
