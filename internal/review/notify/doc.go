// Package notify announces pending reviews where approvers look and takes
// their decisions back from there.
//
// Four notifiers are provided: a generic signed webhook (outbound only),
// Slack (a message with Approve and Deny buttons), GitHub Issues and Jira (a
// ticket per review, decided by comment, label or transition). Each is built
// from a Config struct by its New function, which validates the
// configuration and does no I/O. Notifiers are safe for concurrent use and
// hold no state about the reviews they announced: the reference Opened
// returns is stored by the review service in Review.Tickets[Name()] and
// handed back to Closed.
//
// Slack, GitHub and Jira also implement Inbound: the gateway mounts their
// Handler at /hooks/<name>, and every request is checked against the
// service's signature (Slack's signing secret, a webhook secret) before its
// body is read as a decision. A decision is passed to the review service
// through Decider, which alone decides whether the person may approve
// (approver lists, no self-approval, N of M). The person on the other side
// is always told what happened: an ephemeral Slack message or a comment on
// the ticket.
//
// # Secrets
//
// Tokens and secrets are given to the notifiers as plain strings the caller
// has already resolved. They are sent only to the service they belong to and
// never appear in an error, a log line or a message: every error text that
// could echo a service's answer is scrubbed of them, and the generic webhook
// URL (which often embeds a token) is never printed.
//
// # Outbound calls
//
// Every call has a per-attempt timeout and honours the caller's context. Network
// errors, 429 and 5xx answers are retried a bounded number of times with
// exponential backoff and jitter; a Retry-After header replaces the backoff
// when it fits within the context's deadline. Other 4xx answers are not
// retried. Response bodies are read up to 1 MiB and always drained and
// closed. A retried create (a POST whose answer was lost) can announce a
// review twice; that is preferred to not announcing it.
//
// # Webhook deliveries
//
// The webhook notifier POSTs a JSON body (see WebhookEvent):
//
//	{"event": "review.opened", "ref": "<delivery id>",
//	 "review": {<sluice.Review as JSON>},
//	 "links": {"review": "<console URL>", "cli": "sluice reviews approve ..."}}
//
// and, when the review ends, the same shape with "event": "review.closed",
// the same "ref" and no "links". The headers are
//
//	Content-Type:       application/json
//	X-Sluice-Event:     review.opened | review.closed
//	X-Sluice-Delivery:  the ref; identical on every retry of one delivery
//	X-Sluice-Timestamp: unix seconds when the attempt was signed
//	X-Sluice-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// Receivers must check the signature over the raw body bytes and reject old
// timestamps; VerifyWebhook does both. Any 2xx answer acknowledges a
// delivery; 5xx, 429 and network errors are retried; other answers are not.
package notify
