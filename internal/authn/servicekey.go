package authn

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"

	jose "github.com/go-jose/go-jose/v4"
)

// Where the service token signing key lives, relative to the data directory.
const (
	keyDir  = "keys"
	keyFile = "service-token.key"
)

// signingKey is the Ed25519 key that signs service tokens. Its String and
// LogValue show only the key id, so that printing or logging it by mistake
// cannot leak the private key.
type signingKey struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	kid  string // RFC 7638 thumbprint of the public key, base64url
}

func (k *signingKey) String() string             { return "service-token-key(" + k.kid + ")" }
func (k *signingKey) LogValue() slog.Value       { return slog.StringValue(k.String()) }
func (k *signingKey) GoString() string           { return k.String() }
func (k *signingKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// keyPath returns the path of the signing key file under dataDir.
func keyPath(dataDir string) string {
	return filepath.Join(dataDir, keyDir, keyFile)
}

// loadOrCreateKey reads the signing key from dataDir, creating it first if it
// does not exist. Creation is safe against a concurrent creator (another
// process sharing the data directory): the new file is linked into place
// only if none exists, and otherwise the existing one is read.
func loadOrCreateKey(dataDir string) (*signingKey, error) {
	path := keyPath(dataDir)
	k, err := readKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if err := createKey(path); err != nil {
		return nil, err
	}
	return readKey(path)
}

// readKey reads and parses a PKCS #8 PEM Ed25519 private key. Errors name
// the file and never contain its bytes.
func readKey(path string) (*signingKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("service token key %s is accessible to group or others (mode %04o); run chmod 600 on it",
			path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("service token key %s: not a PEM \"PRIVATE KEY\" block", path)
	}
	defer clear(block.Bytes)
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("service token key %s: %w", path, err)
	}
	priv, ok := parsed.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("service token key %s: %T is not an Ed25519 key", path, parsed)
	}
	return newSigningKey(priv)
}

func newSigningKey(priv ed25519.PrivateKey) (*signingKey, error) {
	pub := priv.Public().(ed25519.PublicKey)
	jwk := jose.JSONWebKey{Key: pub}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("service token key id: %w", err)
	}
	return &signingKey{priv: priv, pub: pub, kid: base64.RawURLEncoding.EncodeToString(tp)}, nil
}

// createKey writes a new key to path (mode 0600, directory 0700) unless a
// file already exists there.
func createKey(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create key directory: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("generate service token key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	clear(priv)
	if err != nil {
		return fmt.Errorf("encode service token key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	clear(der)
	defer clear(data)

	tmp, err := os.CreateTemp(dir, ".service-token-*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("create service token key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write service token key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write service token key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write service token key: %w", err)
	}
	// Link fails if path exists, so a key made concurrently is never replaced.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("install service token key: %w", err)
	}
	syncDir(dir)
	return nil
}

// syncDir flushes a directory entry to disk where the platform allows it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
