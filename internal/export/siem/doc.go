// Package siem ships audit records to security information and event
// management systems: syslog receivers (RFC 5424 over TCP or TLS), Splunk's
// HTTP Event Collector, and any HTTPS endpoint through a signed webhook.
//
// Each sink implements export.EventSink. The records arrive already
// formatted, one JSON object per export.Item, with the journal sequence
// number beside them; a sink wraps them in its receiver's envelope and
// carries the sequence number where the receiver can drop duplicates by it
// (syslog structured data, a HEC indexed field, the record itself for
// webhooks). Delivery is at least once: Send returns nil only when the
// receiver accepted the whole batch, and on any error the exporter sends the
// same batch again later, so a receiver may see a record twice.
//
// New functions validate their configuration and read the CA file, if any;
// they open no connection. Every sink is safe for concurrent use (Syslog
// serializes its sends on its one connection). A Send honours both the
// caller's context and the configured Timeout, and checks every record of
// the batch before sending any: a record that is not a JSON object fails
// the batch. Close is idempotent; a Send after Close fails with ErrClosed.
//
// # Secrets
//
// The HEC token and the webhook secret are sent only to their receiver and
// never appear in an error: errors that could echo a receiver's answer are
// scrubbed of them, and transport errors are stripped of the URL (a webhook
// URL often embeds a token of its own). Plain http is refused except to a
// loopback host, so that neither crosses a network in clear text.
//
// # What "accepted" means
//
// For HEC it is HTTP 200 with {"code":0}: the event was received, not
// necessarily indexed (indexer acknowledgement is not used). For a webhook
// it is any 2xx. Syslog over TCP has no acknowledgement at all: Send returns
// once the batch is written to the socket, and before each batch it checks
// that the receiver has not closed the connection, so a receiver that went
// away between batches makes the next Send fail rather than lose it. A
// receiver that dies while a batch is still in flight can lose the end of
// it without Send noticing; deduplication by sequence number then sees a
// gap, not a duplicate. Receivers that need a stronger guarantee should use
// HEC or a webhook.
package siem
