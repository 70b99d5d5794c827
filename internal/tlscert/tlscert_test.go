package tlscert

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSelfSignedCreatedOnceAndReused(t *testing.T) {
	dir := t.TempDir()
	cfg1, fp1, err := Load("", "", dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg2, fp2, err := Load("", "", dir)
	if err != nil {
		t.Fatal(err)
	}
	if fp1 != fp2 || !strings.HasPrefix(fp1, "SHA256:") || len(fp1) != len("SHA256:")+32*3-1 {
		t.Fatalf("fingerprints %q %q", fp1, fp2)
	}
	leaf, err := x509.ParseCertificate(cfg1.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("loopback IP not in SANs: %v", err)
	}
	if err := leaf.VerifyHostname("localhost"); err != nil {
		t.Errorf("localhost not in SANs: %v", err)
	}
	sum := sha256.Sum256(cfg2.Certificates[0].Certificate[0])
	if fingerprint(sum[:]) != fp1 {
		t.Error("fingerprint does not match the certificate")
	}
	st, err := os.Stat(filepath.Join(dir, "tls", "key.pem"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", st.Mode(), err)
	}
	if cfg1.MinVersion != tls.VersionTLS12 {
		t.Error("TLS minimum version")
	}
}

func TestConfiguredFilesMustExist(t *testing.T) {
	if _, _, err := Load("/nonexistent/cert.pem", "/nonexistent/key.pem", t.TempDir()); err == nil {
		t.Fatal("missing files accepted")
	}
}
