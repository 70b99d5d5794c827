// Package export ships the audit journal to places the gateway host cannot
// alter: write-once object storage (Azure Blob, S3) and SIEMs (syslog,
// Splunk HEC, webhooks). The journal is the buffer: each sink reads it
// from a durable cursor, at least once and idempotent by sequence number,
// with retries and backoff, and never slows the requests that write it.
package export

import (
	"context"
	"errors"
)

// ErrExists is what an ObjectStore's Put returns for a name that is
// already written: write-once storage keeps the first copy.
var ErrExists = errors.New("object already exists")

// ObjectStore is write-once object storage: an Azure Blob container or an
// S3 bucket, under a name prefix the store was configured with.
type ObjectStore interface {
	// Put writes data under name once. A name already written returns an
	// error wrapping ErrExists and leaves the object as it was.
	Put(ctx context.Context, name string, data []byte) error
	// List returns the names under prefix (relative to the store's own
	// prefix), in lexical order.
	List(ctx context.Context, prefix string) ([]string, error)
	// Get returns an object's content.
	Get(ctx context.Context, name string) ([]byte, error)
	// Close releases the store's connections.
	Close() error
}

// Item is one journal record formatted for an event sink.
type Item struct {
	// Seq is the record's journal sequence number; receivers can drop
	// duplicates by it.
	Seq uint64
	// Data is the formatted event: one JSON object, no trailing newline.
	Data []byte
}

// EventSink delivers formatted records to a SIEM or webhook.
type EventSink interface {
	// Send delivers items, in order. It returns nil only when every item
	// was accepted by the receiver; on error the caller sends the same
	// items again later (at least once).
	Send(ctx context.Context, items []Item) error
	// Close releases the sink's connections.
	Close() error
}
