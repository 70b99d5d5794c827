// Package journal is sluice's tamper-evident, append-only audit journal.
//
// A Journal appends sluice.Event values as numbered records to segment files,
// keeps an RFC 6962 Merkle tree over them, and signs checkpoints of that tree
// with an Ed25519 key. Readers (Scan, Verify, Prove, Retain) work on the
// files alone, with or without a running gateway; an auditor needs only a
// Proof and the public key (CheckProof).
//
// # Files
//
// Everything lives in Options.Dir (data_dir/journal, mode 0700; files 0600):
//
//	00000000000000000001.seg   segment: records 1 .. n
//	00000000000000010001.seg   segment: records from 10001 (20-digit first seq)
//	checkpoints                signed checkpoints, oldest first
//	LOCK                       held (flock) by the one process that writes
//
// The signing key is kept outside the directory, by default in
// data_dir/journal.key (see DefaultKeyFile), so that the journal directory
// can be copied to an auditor without it.
//
// # Segment
//
// A segment starts with a 24-byte header, all integers big-endian:
//
//	0   8  magic "SLUICEJ\n"
//	8   4  format version (1)
//	12  8  sequence number of the segment's first record
//	20  4  CRC-32C (Castagnoli) of bytes 0..19
//
// followed by frames, one per record:
//
//	0   4  payload length n (1 .. 32 MiB)
//	4   4  CRC-32C (Castagnoli) of the payload
//	8   n  payload
//
// A segment is closed when it reaches Options.SegmentBytes; records are never
// rewritten. Only a crash can leave a torn frame, and only at the end of the
// newest segment; Open truncates it (and logs it).
//
// # Payload
//
// A payload is one JSON object, with the members in this order:
//
//	{"seq":42,"ts":1767312000123456789,"prev":"<base64>","ev":{"seq":42,"time":...}}
//
// seq starts at 1 and has no gaps (the record's Merkle leaf index is seq-1).
// ts is the record time in Unix nanoseconds; it never goes backwards. prev is
// the standard base64 of the previous record's leaf hash ("" for seq 1), which
// chains each record to the one before it. ev is the sluice.Event, encoded as
// encoding/json would encode it, with its Seq set to seq.
//
// A result's ev names its request instead of repeating it: request_id is the
// request's ID and request_seq the seq of the request's own record, which
// holds the whole request (who, where, the text, the parameters):
//
//	{"seq":43,"time":...,"type":"result","session":"S","request_id":"S/7","request_seq":42,"result":{...}}
//
// This keeps a statement's two records to about two thirds of what they were
// when the result repeated the request (journals written then still read: a
// result with a "request" member carries the request itself). Readers that
// need a result's request join it with Requests.
//
// # Merkle tree and checkpoints
//
// The leaf hash of a record is SHA-256(0x00 || payload); interior nodes are
// SHA-256(0x01 || left || right) (RFC 6962). A checkpoint is a C2SP
// tlog-checkpoint wrapped in a C2SP signed note (golang.org/x/mod/sumdb/note,
// Ed25519), for example (20000 = 16384+2048+1024+512+32: five range hashes):
//
//	sluice/journal
//	20000
//	oAcmWZOifGPBjRBbYY4tvpkewByMae3p1Un0ByMrfMw=
//	time 2026-01-02T15:04:05.020002Z
//	last jRQVCpnV6jvA5hU69AMbgEC3JoGzEIKuQuaItLQ3UuU=
//	range kyzssoq7/7CAL30lbvKMS3a79V5zSxBES9GyS1KzEaI= +F0Lz9ncIzduvbL5SV/WUMS2mRrReGNEmJQ8t33wKhQ= aLhijLKFZqE/2g4h8WuTCj73TRmJ9A9WuwmjoRMGN9w= CFAYshfOZ5wPH4iPpaA5b2q6CjryQ+e5Pe109/JrJYc= /gdJXlMzdqpO2LalVpHri2cIPidQDSYySsnJ3O1QEQM=
//
//	— sluice/journal T9zHmpqMG4fvCX3BnJWhFdYr3EMXGX4xOFp3Er96dF3H+CwCfPbHh4wtSG3cD7a1IcMappyrktH8BeUsVAKjhJ3RYQs=
//
// verified by the key sluice/journal+4fdcc79a+AT/QiXroLqHufxYuadVCckm6y9o+vXtQMR3pwuVmZ4gm.
// The body lines are the origin (Options.Origin), the tree size (the number
// of records), the base64 root hash, then three extension lines: the time of
// signing (RFC 3339, nanoseconds), the leaf hash of the record at the tree
// size, and the hashes of the compact range [0, size) — the roots of the
// perfect subtrees covering the tree, left to right — from which the tree can
// be extended without the records before it. A journal whose old segments
// were removed (Retain) is verified from the checkpoint at the cut. A size-0
// checkpoint has the empty tree's root (SHA-256 of nothing) and no last or
// range line.
//
// The checkpoints file holds the signed notes oldest first, each followed by
// an empty line. A checkpoint body never contains an empty line and every
// signature line starts with "— ", so the empty line after the signatures
// ends a note unambiguously. A checkpoint is written only after the records
// it covers are on disk (fsync), every Options.CheckpointEvery records or
// Options.CheckpointInterval, at the end of every segment, at Open and at
// Close. After a segment is closed the file is rewritten (atomically, by
// rename) without the checkpoints inside closed segments: the one at each
// segment's end covers everything they did.
//
// # Signing key
//
// The key file holds one line, a note signer key
// ("PRIVATE+KEY+<name>+<hash>+<base64>", see note.NewSigner); Open creates it
// (mode 0600, key name = Origin) when the default key file is missing.
// VerifierKey derives the public verifier key ("<name>+<hash>+<base64>")
// that Verify and CheckProof take.
//
// # Durability
//
// Append with durable=true returns after the record reached the operating
// system (SyncBatch: a kill -9 cannot lose it; a power loss can lose up to
// Options.FsyncInterval of records, because a background fsync follows
// within that time) or the disk (SyncAlways: fsync done). Concurrent
// appenders share each write and fsync (group commit). If a write or fsync
// fails the journal fails closed: the appends not yet durable get the error,
// the segment is cut back to its last good record, and the next Append tries
// again.
package journal
