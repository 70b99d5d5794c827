package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// binDirEnv names the environment variable that overrides the search for the
// PostgreSQL server binaries.
const binDirEnv = "SLUICE_PG_BINDIR"

// findBinDir returns the directory holding initdb and postgres. An explicit
// directory must hold both; otherwise candidates are tried in the order
// documented on Options.BinDir.
func findBinDir(explicit string) (string, error) {
	if explicit != "" {
		if !hasServerBinaries(explicit) {
			return "", fmt.Errorf("PostgreSQL server binaries (initdb, postgres) not found in %s: "+
				"install Debian's postgresql package (apt-get install postgresql)", explicit)
		}
		return explicit, nil
	}
	var tried []string
	try := func(dir string) bool {
		if dir == "" {
			return false
		}
		tried = append(tried, dir)
		return hasServerBinaries(dir)
	}
	if dir := os.Getenv(binDirEnv); try(dir) {
		return dir, nil
	}
	if dir := pgConfigBinDir(); try(dir) {
		return dir, nil
	}
	for _, dir := range debianBinDirs() {
		if try(dir) {
			return dir, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if dir := filepath.Dir(p); try(dir) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL server binaries (initdb, postgres) not found (looked in %s and PATH): "+
		"install Debian's postgresql package (apt-get install postgresql), as CI does, "+
		"or set %s", strings.Join(tried, ", "), binDirEnv)
}

func hasServerBinaries(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// pgConfigBinDir asks pg_config. On Debian it may come from a libpq-dev whose
// major version has no server installed, so its answer is only a candidate.
func pgConfigBinDir() string {
	p, err := exec.LookPath("pg_config")
	if err != nil {
		return ""
	}
	out, err := exec.Command(p, "--bindir").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// debianBinDirs lists /usr/lib/postgresql/*/bin, newest major version first.
func debianBinDirs() []string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) float64 {
		v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		if err != nil {
			return -1
		}
		return v
	}
	sort.SliceStable(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	return dirs
}
