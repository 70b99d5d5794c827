package browser

import (
	"os"
	"path/filepath"
	"testing"
)

func TestInstalledNeedsStampAndModule(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(stampIn(dir), []byte(npmPackage+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if installed(dir) {
		t.Fatal("stamp without module counts as installed")
	}
	if err := os.MkdirAll(moduleIn(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(moduleIn(dir), "package.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !installed(dir) {
		t.Fatal("complete install not recognized")
	}
	if err := os.WriteFile(stampIn(dir), []byte("playwright-core@1.0.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if installed(dir) {
		t.Fatal("install of another version counts as installed")
	}
	if err := os.Remove(stampIn(dir)); err != nil {
		t.Fatal(err)
	}
	if installed(dir) {
		t.Fatal("module without stamp (an interrupted install) counts as installed")
	}
}

func TestCacheDirs(t *testing.T) {
	t.Setenv(DirEnv, "/x/pw")
	if got := cacheDirs(); len(got) != 1 || got[0] != "/x/pw" {
		t.Fatalf("with %s: %v", DirEnv, got)
	}
	t.Setenv(DirEnv, "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if got := cacheDirs(); got[0] != "/xdg/sluice-test/playwright" || got[1] != "/var/cache/sluice-test/playwright" {
		t.Fatalf("with XDG_CACHE_HOME: %v", got)
	}
}

func TestChromiumEnvMustBeExecutable(t *testing.T) {
	t.Setenv(ChromiumEnv, filepath.Join(t.TempDir(), "nothing"))
	var log []string
	if _, err := findChromium(t.Context(), &log); err == nil {
		t.Fatal("a missing SLUICE_CHROMIUM was accepted")
	}
}
