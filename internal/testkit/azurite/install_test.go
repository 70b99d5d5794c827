package azurite

import (
	"os"
	"path/filepath"
	"testing"
)

func TestInstalledNeedsStamp(t *testing.T) {
	dir := t.TempDir()
	bin := binIn(dir)
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if installed(dir) {
		t.Fatal("install without stamp counts as installed")
	}
	if err := os.WriteFile(stampIn(dir), []byte("azurite@2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if installed(dir) {
		t.Fatal("install of another version counts as installed")
	}
	if err := os.WriteFile(stampIn(dir), []byte(npmPackage+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !installed(dir) {
		t.Fatal("complete install not recognized")
	}
}

func TestCacheDirs(t *testing.T) {
	t.Setenv(DirEnv, "/x/azurite")
	if got := cacheDirs(); len(got) != 1 || got[0] != "/x/azurite" {
		t.Fatalf("with %s: %v", DirEnv, got)
	}
	t.Setenv(DirEnv, "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if got := cacheDirs(); got[0] != "/xdg/sluice-test/azurite" || got[1] != "/var/cache/sluice-test/azurite" {
		t.Fatalf("with XDG_CACHE_HOME: %v", got)
	}
}
