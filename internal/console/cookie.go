package console

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// keyFile is where the console's cookie key lives, under the data
// directory.
const keyFile = "keys/console.key"

// sealer encrypts and authenticates the console's cookies (AES-256-GCM)
// and derives its CSRF tokens (HMAC-SHA256), with keys derived from one
// secret kept in the data directory. It is safe for concurrent use.
type sealer struct {
	aead cipher.AEAD
	mac  []byte
}

func newSealer(secret []byte) (*sealer, error) {
	ek, err := hkdf.Key(sha256.New, secret, nil, "sluice console cookie v1", 32)
	if err != nil {
		return nil, err
	}
	mk, err := hkdf.Key(sha256.New, secret, nil, "sluice console csrf v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(ek)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead, mac: mk}, nil
}

// seal encrypts v as JSON for a cookie of the given purpose ("session",
// "login"); a cookie opens only for the purpose it was sealed for.
func (s *sealer) seal(purpose string, v any) (string, error) {
	pt, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(pt)+s.aead.Overhead())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, pt, []byte(purpose))), nil
}

// open reverses seal.
func (s *sealer) open(purpose, value string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(b) < s.aead.NonceSize() {
		return errors.New("malformed cookie")
	}
	n := s.aead.NonceSize()
	pt, err := s.aead.Open(nil, b[:n], b[n:], []byte(purpose))
	if err != nil {
		return errors.New("cookie does not authenticate")
	}
	return json.Unmarshal(pt, v)
}

// token returns the CSRF token bound to a session (or login) id.
func (s *sealer) token(kind, id string) string {
	m := hmac.New(sha256.New, s.mac)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkToken reports, in constant time, whether got is the token of id.
func (s *sealer) checkToken(kind, id, got string) bool {
	return id != "" && hmac.Equal([]byte(s.token(kind, id)), []byte(got))
}

// randomID returns n random bytes, base64url.
func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// loadOrCreateSecret reads the console's 32-byte secret from dataDir,
// creating it (mode 0600) if it does not exist. Creation is safe against a
// concurrent creator: the new file is linked into place only if none
// exists. Errors name the file and never hold its content.
func loadOrCreateSecret(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, keyFile)
	b, err := readSecret(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return b, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create key directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".console-*.tmp") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("create console key: %w", err)
	}
	defer os.Remove(tmp.Name())
	secret := make([]byte, 32)
	rand.Read(secret)
	_, err = tmp.WriteString(base64.StdEncoding.EncodeToString(secret) + "\n")
	clear(secret)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write console key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("install console key: %w", err)
	}
	return readSecret(path)
}

func readSecret(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("console key %s is accessible to group or others (mode %04o); run chmod 600 on it", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	secret, err := base64.StdEncoding.DecodeString(string(trimNewline(data)))
	if err != nil || len(secret) != 32 {
		return nil, fmt.Errorf("console key %s: not 32 base64-encoded bytes", path)
	}
	return secret, nil
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
