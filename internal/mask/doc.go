// Package mask finds sensitive data in text, PostgreSQL values and JSON
// documents and replaces it, in process and in the stream, before it
// reaches an agent, a log line or the journal.
//
// An Engine is compiled once from a Config by New and is then immutable and
// safe for concurrent use. It combines three things:
//
//   - Detectors: named content detectors grouped in sets ("pii" and
//     "secrets", see Sets and Detectors) plus custom regular-expression
//     detectors from the config. They find values inside free text.
//   - Column rules: `table.column` patterns with globs; a matching column
//     is masked as a whole, whatever its content.
//   - JSON path rules: `$.a.b`, `$.items[*].card`, `$..email`; a matching
//     member of an HTTP body is masked as a whole.
//
// Each masked value is rewritten by a Strategy: redact, partial, hash or
// fake (see Strategy).
//
// # Speed
//
// Text never runs every detector over every byte. One pass over the input
// walks words (runs of [A-Za-z0-9_]) and a few punctuation bytes ('@' and
// ':'); a word is looked at by the detectors that can start with its first
// byte (a digit: cards, phones, SSNs, IPs; "eyJ": JWTs; "gh": GitHub
// tokens, ...) or that take it as a key ("password", "AccountKey", "sig"
// followed by '=' or ':'), and the precise check (Luhn, mod 97, base64 and
// JSON decoding, address parsing) runs only at such candidates. When
// nothing matches, Text copies the input once and allocates nothing.
//
// # PostgreSQL values
//
// ColumnMasker.Value keeps every value valid for its type and format:
//
//	type                      detectors          column rule
//	text, varchar, unknown    inside the text    replacement text
//	bpchar                    inside, then padded or cut to the original length
//	name                      inside, then cut to 63 bytes
//	json, jsonb               path rules and     a JSON string ("[redacted]", "h:…")
//	                          inside strings
//	arrays of the above       per element        per element
//	uuid                      never              redact: nil UUID; partial: last
//	                                             4 hex digits; hash, fake: v4 UUID
//	inet, cidr                the ip detector    redact: 0.0.0.0 or ::; hash,
//	                          (typed result)     fake: documentation range
//	int2/4/8, oid             never              redact 0; hash/fake derived;
//	                                             partial: last 4 digits
//	float4/8, numeric         never              redact 0; hash/fake derived integer
//	bool                      never              redact false; hash/fake derived
//	date, time, timestamp(tz) never              redact epoch; hash/fake derived
//	bytea                     never              redact empty; hash/fake 8 bytes
//	other scalar types        never              ErrWithhold
//	xml, composite, unknown   hit: ErrWithhold   ErrWithhold
//	OIDs (citext, enums, ...)
//
// Partial on a type other than text, arrays, uuid and integers gives
// ErrWithhold.
//
// # Failing closed
//
// Column.Value and JSON return an error whenever a value cannot be masked
// and still be valid for its type: a malformed array, invalid JSON in a
// json column, a rule on a type that has no safe replacement (ErrWithhold)
// or a panic inside a detector. The caller then withholds the value (sends
// NULL, or refuses the body); the clear value is never returned with an
// error. Values of types that may carry text the package cannot rewrite
// (xml, extension types such as citext, composite types, arrays of them)
// are scanned, and withheld when a detector finds something in them.
package mask
