package azurite

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLockDirExcludes(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lockDir(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file, so a second open in this
	// process contends like another test binary would.
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := lockDir(ctx, dir); err == nil {
		t.Fatal("second lock taken while the first is held")
	}
	got := make(chan error, 1)
	go func() {
		u, err := lockDir(t.Context(), dir)
		if err == nil {
			u()
		}
		got <- err
	}()
	unlock()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiter did not get the lock after unlock")
	}
}

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
