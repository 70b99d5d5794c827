// Package migrate loads the numbered SQL migrations that the state store
// backends embed. Each backend applies them with its own driver; this package
// only reads, names and orders them so that both follow the same rules.
package migrate

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
)

// Migration is one schema change, read from a file named NNNN_name.sql.
type Migration struct {
	// Version is the file's number. Versions start at 1 and have no gaps.
	Version int
	// Name is the part of the file name between the number and ".sql".
	Name string
	// SQL is the file's contents, one or more statements.
	SQL string
}

// String returns the migration's file name without the extension.
func (m Migration) String() string { return fmt.Sprintf("%04d_%s", m.Version, m.Name) }

var fileName = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)

// Load reads the migrations in dir of fsys, ordered by version. Every file in
// dir must be a migration; versions must run 1, 2, 3, ... without gaps or
// duplicates, so that a misnamed file fails loudly instead of being skipped.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir) // sorted by file name
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil || e.IsDir() {
			return nil, fmt.Errorf("read migrations: %q is not named NNNN_name.sql", e.Name())
		}
		version, _ := strconv.Atoi(m[1]) // four digits always parse
		if want := len(out) + 1; version != want {
			return nil, fmt.Errorf("read migrations: %q has version %d, want %d", e.Name(), version, want)
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		out = append(out, Migration{Version: version, Name: m[2], SQL: string(body)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("read migrations: none in %s", dir)
	}
	return out, nil
}

// Latest returns the highest version in ms, or 0 if ms is empty.
func Latest(ms []Migration) int {
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}
