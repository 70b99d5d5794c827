package migrate

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0002_add_index.sql": {Data: []byte("CREATE INDEX i ON t (a);")},
		"m/0001_init.sql":      {Data: []byte("CREATE TABLE t (a int);")},
	}
	ms, err := Load(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	want := []Migration{
		{Version: 1, Name: "init", SQL: "CREATE TABLE t (a int);"},
		{Version: 2, Name: "add_index", SQL: "CREATE INDEX i ON t (a);"},
	}
	if len(ms) != len(want) {
		t.Fatalf("got %d migrations, want %d", len(ms), len(want))
	}
	for i := range want {
		if ms[i] != want[i] {
			t.Errorf("migration %d = %+v, want %+v", i, ms[i], want[i])
		}
	}
	if got := Latest(ms); got != 2 {
		t.Errorf("Latest = %d, want 2", got)
	}
	if got := ms[1].String(); got != "0002_add_index" {
		t.Errorf("String = %q, want 0002_add_index", got)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		files fstest.MapFS
		want  string
	}{
		{"gap", fstest.MapFS{"m/0001_a.sql": {}, "m/0003_c.sql": {}}, "has version 3, want 2"},
		{"duplicate", fstest.MapFS{"m/0001_a.sql": {}, "m/0001_b.sql": {}}, "has version 1, want 2"},
		{"starts at two", fstest.MapFS{"m/0002_a.sql": {}}, "has version 2, want 1"},
		{"bad name", fstest.MapFS{"m/0001_a.sql": {}, "m/README.md": {}}, `"README.md" is not named`},
		{"upper case", fstest.MapFS{"m/0001_Init.sql": {}}, "is not named"},
		{"hidden file", fstest.MapFS{"m/.keep": {}}, "is not named"},
		{"no files", fstest.MapFS{"m": {Mode: fs.ModeDir}}, "none in m"},
		{"missing dir", fstest.MapFS{"x/0001_a.sql": {}}, "read migrations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.files, "m")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	if got := Latest(nil); got != 0 {
		t.Errorf("Latest(nil) = %d, want 0", got)
	}
}
