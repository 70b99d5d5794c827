package testkit

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Group roles whose members pg_hba.conf authenticates with md5 and password;
// every other role uses scram-sha-256. testersRole holds the privileges test
// roles share. All three are NOLOGIN.
const (
	md5GroupRole      = "sluice_md5_login"
	passwordGroupRole = "sluice_password_login"
	testersRole       = "sluice_testers"
)

// hbaConf admits TCP connections from loopback only, with or without TLS.
// Superusers are never members of a group for the purpose of "+group", so
// the superuser always uses SCRAM.
var hbaConf = strings.Join([]string{
	"# Written by sluice internal/testkit. TYPE DATABASE USER ADDRESS METHOD",
	"host all +" + md5GroupRole + " 127.0.0.1/32 md5",
	"host all +" + md5GroupRole + " ::1/128 md5",
	"host all +" + passwordGroupRole + " 127.0.0.1/32 password",
	"host all +" + passwordGroupRole + " ::1/128 password",
	"host all all 127.0.0.1/32 scram-sha-256",
	"host all all ::1/128 scram-sha-256",
	"host replication all 127.0.0.1/32 scram-sha-256",
	"host replication all ::1/128 scram-sha-256",
	"",
}, "\n")

// serverSettings returns the postgresql.conf settings of a test server: the
// defaults, then o.Settings.
func serverSettings(o Options, tf tlsFiles) map[string]string {
	s := map[string]string{
		"listen_addresses":        "127.0.0.1",
		"unix_socket_directories": "",
		"max_connections":         strconv.Itoa(o.MaxConnections),
		"shared_buffers":          "32MB",
		"fsync":                   "off",
		"synchronous_commit":      "off",
		"full_page_writes":        "off",
		"jit":                     "off",
		"ssl":                     "on",
		"ssl_cert_file":           tf.certFile,
		"ssl_key_file":            tf.keyFile,
		"password_encryption":     "scram-sha-256",
		"lc_messages":             "C",
		"timezone":                "UTC",
		"logging_collector":       "off",
		"log_line_prefix":         "%m [%p] %q%u@%d ",
	}
	for k, v := range o.Settings {
		s[k] = v
	}
	return s
}

// writeConfig replaces pg_hba.conf and appends settings to postgresql.conf
// in dataDir. The files keep the owner initdb gave them.
func writeConfig(dataDir string, settings map[string]string) error {
	if err := os.WriteFile(filepath.Join(dataDir, "pg_hba.conf"), []byte(hbaConf), 0o600); err != nil {
		return fmt.Errorf("write pg_hba.conf: %w", err)
	}
	names := make([]string, 0, len(settings))
	for k := range settings {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("\n# Added by sluice internal/testkit.\n")
	for _, k := range names {
		fmt.Fprintf(&b, "%s = '%s'\n", k, strings.ReplaceAll(settings[k], "'", "''"))
	}
	f, err := os.OpenFile(filepath.Join(dataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("append postgresql.conf: %w", err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return fmt.Errorf("append postgresql.conf: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("append postgresql.conf: %w", err)
	}
	return nil
}
