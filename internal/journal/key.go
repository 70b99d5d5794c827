package journal

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// signingKey is a loaded key file.
type signingKey struct {
	signer note.Signer
	vkey   string // the verifier key, "<name>+<hash>+<base64>"
}

// loadKey reads the note signer key in path. When create is set and the
// file does not exist, it generates an Ed25519 key named name and writes it
// with mode 0600 (and its directory with 0700 if missing).
func loadKey(path, name string, create bool) (*signingKey, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		if err := createKey(path, name); err != nil {
			return nil, err
		}
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("journal: read signing key: %w", err)
	}
	return parseKey(string(data))
}

// createKey writes a new key file; it fails if the file appeared meanwhile.
func createKey(path, name string) error {
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return fmt.Errorf("journal: generate signing key: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("journal: create key directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("journal: create signing key: %w", err)
	}
	_, err = f.WriteString(skey + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("journal: write signing key: %w", err)
	}
	return nil
}

// parseKey parses a note signer key and derives its verifier key.
func parseKey(s string) (*signingKey, error) {
	skey := strings.TrimSpace(s)
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("journal: signing key: %w", err)
	}
	// PRIVATE+KEY+<name>+<hash>+<base64 of 0x01 || seed>
	parts := strings.SplitN(skey, "+", 5)
	raw, err := b64.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize {
		return nil, errors.New("journal: signing key: not an Ed25519 key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(signer.Name(), pub)
	if err != nil {
		return nil, fmt.Errorf("journal: signing key: %w", err)
	}
	return &signingKey{signer: signer, vkey: vkey}, nil
}

// VerifierKey returns the public verifier key ("<name>+<hash>+<base64>", the
// note verifier-key format) of the signing key in keyFile: what `sluice
// audit key` prints and what Verify and CheckProof take. It does not create
// the key.
func VerifierKey(keyFile string) (string, error) {
	k, err := loadKey(keyFile, "", false)
	if err != nil {
		return "", err
	}
	return k.vkey, nil
}

// NewVerifier returns the note.Verifier for a verifier key, as Verify takes.
func NewVerifier(verifierKey string) (note.Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(verifierKey))
	if err != nil {
		return nil, fmt.Errorf("journal: verifier key: %w", err)
	}
	return v, nil
}

// GenerateKey returns a new signing key named name in note signer-key
// format and its verifier key. Operators who keep the key elsewhere write
// the first to Options.KeyFile.
func GenerateKey(name string) (signerKey, verifierKey string, err error) {
	if !validName(name) {
		return "", "", fmt.Errorf("journal: key name %q must be non-empty UTF-8 without spaces or '+'", name)
	}
	return note.GenerateKey(rand.Reader, name)
}

// mustVerifier returns the verifier of a key this package derived itself.
func mustVerifier(vkey string) note.Verifier {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		panic("journal: derived verifier key is invalid: " + err.Error())
	}
	return v
}
