package rsyslog_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/testkit/rsyslog"
)

// send writes octet-counted messages on a new connection and closes it.
func send(t *testing.T, rs *rsyslog.Rsyslog, msgs ...string) error {
	t.Helper()
	var (
		conn net.Conn
		err  error
	)
	if ca := rs.CAFile(); ca != "" {
		pem, rerr := os.ReadFile(ca)
		if rerr != nil {
			t.Fatal(rerr)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		conn, err = tls.Dial("tcp", rs.Addr(), &tls.Config{RootCAs: pool, ServerName: "localhost"})
	} else {
		conn, err = net.DialTimeout("tcp", rs.Addr(), 5*time.Second)
	}
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, m := range msgs {
		if _, err := fmt.Fprintf(conn, "%d %s", len(m), m); err != nil {
			return err
		}
	}
	return nil
}

func TestReceivesAndParses(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts rsyslog.Options
	}{
		{"tcp", rsyslog.Options{}},
		{"gtls", rsyslog.Options{TLS: true, Driver: "gtls"}},
		{"ossl", rsyslog.Options{TLS: true, Driver: "ossl"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rs := rsyslog.Start(t, tc.opts)
			if got := rs.CAFile() != ""; got != tc.opts.TLS {
				t.Fatalf("CAFile() = %q with TLS %v", rs.CAFile(), tc.opts.TLS)
			}
			big := strings.Repeat("x", 100_000)
			msg1 := `<110>1 2024-01-02T03:04:05.123456Z host1 app 42 audit [ex@32473 seq="7"] {"a":"é"}`
			msg2 := `<14>1 2024-01-02T03:04:06Z host2 app - - - ` + big
			if err := send(t, rs, msg1, msg2); err != nil {
				t.Fatal(err)
			}
			got := rs.WaitMessages(t, 2)
			if len(got) != 2 {
				t.Fatalf("%d messages, want 2: %+v", len(got), got)
			}
			want := rsyslog.Message{
				Raw: msg1, PRI: "110", Version: "1", Timestamp: "2024-01-02T03:04:05.123456Z",
				Hostname: "host1", AppName: "app", ProcID: "42", MsgID: "audit",
				StructuredData: `[ex@32473 seq="7"]`, Msg: `{"a":"é"}`,
			}
			if got[0] != want {
				t.Errorf("message 1 =\n%+v\nwant\n%+v", got[0], want)
			}
			if got[1].Msg != big || got[1].StructuredData != "-" || got[1].Hostname != "host2" {
				t.Errorf("message 2: host %q sd %q, msg of %d bytes, want %d", got[1].Hostname, got[1].StructuredData, len(got[1].Msg), len(big))
			}
		})
	}
}

func TestStopRestartKeepsPortAndFile(t *testing.T) {
	rs := rsyslog.Start(t, rsyslog.Options{})
	addr := rs.Addr()
	if err := send(t, rs, `<14>1 - h a - - - one`); err != nil {
		t.Fatal(err)
	}
	rs.WaitMessages(t, 1)

	rs.Stop()
	rs.Stop() // idempotent
	if rs.Running() {
		t.Fatal("Running after Stop")
	}
	if err := send(t, rs, `<14>1 - h a - - - lost`); err == nil {
		t.Fatal("a stopped rsyslog accepted a connection")
	}

	rs.Restart()
	if rs.Addr() != addr {
		t.Fatalf("address %s after restart, was %s", rs.Addr(), addr)
	}
	if err := send(t, rs, `<14>1 - h a - - - two`); err != nil {
		t.Fatal(err)
	}
	got := rs.WaitMessages(t, 2)
	if len(got) != 2 || got[0].Msg != "one" || got[1].Msg != "two" {
		t.Fatalf("messages after restart: %+v", got)
	}
	if n := len(rs.Lines()); n != 2 {
		t.Fatalf("%d lines, want 2 (probes are kept apart)", n)
	}

	rs.Kill()
	rs.Restart() // after a crash too
	if err := send(t, rs, `<14>1 - h a - - - three`); err != nil {
		t.Fatal(err)
	}
	if got := rs.WaitMessages(t, 3); got[2].Msg != "three" {
		t.Fatalf("third message: %+v", got[2])
	}
}

func TestUnrelatedCAIsRefused(t *testing.T) {
	rs := rsyslog.Start(t, rsyslog.Options{TLS: true})
	pem, err := os.ReadFile(rsyslog.WriteUnrelatedCA(t))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conn, err := tls.Dial("tcp", rs.Addr(), &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err == nil {
		conn.Close()
		t.Fatal("handshake succeeded with an unrelated CA")
	}
}
