package siem

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/export"
	"github.com/sluicehq/sluice/internal/testkit/rsyslog"
)

var sdSeq = regexp.MustCompile(`^\[sluice@32473 seq="([0-9]+)"\]$`)

// seqOf returns the sequence number in a message's structured data.
func seqOf(t *testing.T, m rsyslog.Message) uint64 {
	t.Helper()
	sub := sdSeq.FindStringSubmatch(m.StructuredData)
	if sub == nil {
		t.Fatalf("structured data %q has no sluice seq", m.StructuredData)
	}
	n, err := strconv.ParseUint(sub[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// checkMessage checks everything rsyslog read from the message of it.
func checkMessage(t *testing.T, m rsyslog.Message, it export.Item, hostname string) {
	t.Helper()
	if got := seqOf(t, m); got != it.Seq {
		t.Fatalf("seq %d, want %d", got, it.Seq)
	}
	meta, err := readMeta(it.Data)
	if err != nil {
		t.Fatal(err)
	}
	pri := strconv.Itoa(FacilityLogAudit*8 + syslogSeverity(meta.severityID))
	ts := time.UnixMilli(baseTime + int64(it.Seq)).UTC().Format(timestampLayout)
	want := rsyslog.Message{
		PRI: pri, Version: "1", Timestamp: ts, Hostname: hostname, AppName: "sluice",
		ProcID: strconv.Itoa(os.Getpid()), MsgID: "audit", StructuredData: m.StructuredData, Msg: m.Msg,
	}
	got := m
	got.Raw = ""
	if got != want {
		t.Fatalf("seq %d: rsyslog read\n%+v\nwant\n%+v", it.Seq, got, want)
	}
	if !strings.HasPrefix(m.Raw, "<"+pri+">1 "+ts+" "+hostname+" sluice ") {
		t.Fatalf("seq %d: raw message %q", it.Seq, m.Raw)
	}
	sameJSON(t, "seq "+strconv.FormatUint(it.Seq, 10), []byte(m.Msg), it.Data)
}

func newTestSyslog(t *testing.T, c SyslogConfig) *Syslog {
	t.Helper()
	s, err := NewSyslog(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func TestSyslogIntoRsyslog(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts rsyslog.Options
	}{
		{"tcp", rsyslog.Options{}},
		{"tls-gnutls", rsyslog.Options{TLS: true, Driver: "gtls"}},
		{"tls-openssl", rsyslog.Options{TLS: true, Driver: "ossl"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rs := rsyslog.Start(t, tc.opts)
			s := newTestSyslog(t, SyslogConfig{
				Address: rs.Addr(), TLS: tc.opts.TLS, CAFile: rs.CAFile(), Hostname: "gw-1",
			})
			ctx := context.Background()
			var sent []export.Item
			for b := range 4 {
				batch := items(uint64(1+b*50), 50)
				if err := s.Send(ctx, batch); err != nil {
					t.Fatalf("batch %d: %v", b, err)
				}
				sent = append(sent, batch...)
			}
			// One record larger than rsyslog's default 8 KiB message.
			large := export.Item{Seq: 201, Data: []byte(`{"time":` + strconv.Itoa(baseTime+201) +
				`,"blob":"` + strings.Repeat("ab", 100_000) + `"}`)}
			if err := s.Send(ctx, []export.Item{large}); err != nil {
				t.Fatal(err)
			}
			sent = append(sent, large)

			got := rs.WaitMessages(t, len(sent))
			if len(got) != len(sent) {
				t.Fatalf("%d messages, want %d", len(got), len(sent))
			}
			for i, m := range got {
				checkMessage(t, m, sent[i], "gw-1")
			}
		})
	}
}

// The receiver goes away between batches and comes back: the Send that
// meets it down fails, the resend after its restart succeeds, and after
// dropping duplicates by seq every record is there exactly once.
func TestSyslogReceiverRestart(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts rsyslog.Options
	}{
		{"tcp", rsyslog.Options{}},
		{"tls", rsyslog.Options{TLS: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rs := rsyslog.Start(t, tc.opts)
			s := newTestSyslog(t, SyslogConfig{Address: rs.Addr(), TLS: tc.opts.TLS, CAFile: rs.CAFile(), Timeout: 5 * time.Second})
			ctx := context.Background()

			const batches, size = 10, 20
			failures := 0
			for b := range batches {
				batch := items(uint64(1+b*size), size)
				if b == 4 {
					// Everything sent so far has been written out; the
					// connection stays open on the sender's side.
					rs.WaitMessages(t, b*size)
					rs.Stop()
					err := s.Send(ctx, batch)
					if err == nil {
						t.Fatal("Send succeeded with the receiver stopped")
					}
					t.Logf("with the receiver stopped: %v", err)
					failures++
					if err := s.Send(ctx, batch); err == nil {
						t.Fatal("second Send succeeded with the receiver stopped")
					}
					failures++
					rs.Restart()
				}
				if err := s.Send(ctx, batch); err != nil {
					t.Fatalf("batch %d: %v", b, err)
				}
			}

			got := rs.WaitMessages(t, batches*size)
			count := map[uint64]int{}
			for _, m := range got {
				count[seqOf(t, m)]++
			}
			dups := len(got) - len(count)
			for seq := uint64(1); seq <= batches*size; seq++ {
				if count[seq] == 0 {
					t.Errorf("seq %d missing", seq)
				}
			}
			if len(count) != batches*size {
				t.Errorf("%d distinct seqs, want %d", len(count), batches*size)
			}
			t.Logf("%d messages for %d records: %d duplicates after %d failed sends", len(got), len(count), dups, failures)
		})
	}
}

func TestSyslogTLSRefusesUntrustedServer(t *testing.T) {
	rs := rsyslog.Start(t, rsyslog.Options{TLS: true})
	for _, tc := range []struct {
		name string
		cfg  SyslogConfig
		want string
	}{
		{"unrelated CA", SyslogConfig{CAFile: rsyslog.WriteUnrelatedCA(t)}, "certificate"},
		{"system roots only", SyslogConfig{}, "certificate"},
		{"wrong server name", SyslogConfig{CAFile: rs.CAFile(), ServerName: "siem.example"}, "siem.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			c.Address, c.TLS = rs.Addr(), true
			s := newTestSyslog(t, c)
			err := s.Send(context.Background(), items(1, 3))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Send: %v, want an error about %q", err, tc.want)
			}
		})
	}
	if n := len(rs.Lines()); n != 0 {
		t.Fatalf("%d messages reached the receiver", n)
	}
}

func TestSyslogCloseAndEmptyBatch(t *testing.T) {
	rs := rsyslog.Start(t, rsyslog.Options{})
	s, err := NewSyslog(SyslogConfig{Address: rs.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	if err := s.Send(context.Background(), items(1, 2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Send(context.Background(), items(3, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	if got := rs.WaitMessages(t, 2); len(got) != 2 {
		t.Fatalf("%d messages", len(got))
	}
}

// A record that is not a JSON object fails its batch before anything is
// written.
func TestSyslogRejectsBadRecordBeforeWriting(t *testing.T) {
	rs := rsyslog.Start(t, rsyslog.Options{})
	s := newTestSyslog(t, SyslogConfig{Address: rs.Addr()})
	batch := items(1, 3)
	batch[1].Data = []byte(`[1,2]`)
	err := s.Send(context.Background(), batch)
	if err == nil || !strings.Contains(err.Error(), "seq 2") {
		t.Fatalf("Send: %v", err)
	}
	if err := s.Send(context.Background(), items(4, 1)); err != nil {
		t.Fatal(err)
	}
	got := rs.WaitMessages(t, 1)
	if len(got) != 1 || seqOf(t, got[0]) != 4 {
		t.Fatalf("messages: %+v", got)
	}
}

func TestNewSyslogChecksConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  SyslogConfig
		want string
	}{
		{SyslogConfig{}, "address is required"},
		{SyslogConfig{Address: "siem.internal"}, "host:port"},
		{SyslogConfig{Address: ":6514"}, "no host"},
		{SyslogConfig{Address: "siem:0"}, "port must be"},
		{SyslogConfig{Address: "siem:syslog"}, "port must be"},
		{SyslogConfig{Address: "siem:6514", Facility: 24}, "facility 24"},
		{SyslogConfig{Address: "siem:6514", Facility: -1}, "facility -1"},
		{SyslogConfig{Address: "siem:6514", AppName: "my app"}, "app name"},
		{SyslogConfig{Address: "siem:6514", AppName: strings.Repeat("a", 49)}, "app name"},
		{SyslogConfig{Address: "siem:6514", Hostname: "gw\n1"}, "hostname"},
		{SyslogConfig{Address: "siem:6514", Timeout: -time.Second}, "timeout"},
		{SyslogConfig{Address: "siem:6514", CAFile: "/ca.pem"}, "need TLS"},
		{SyslogConfig{Address: "siem:6514", TLS: true, CAFile: "/nonexistent/ca.pem"}, "read CA file"},
		{SyslogConfig{Address: "siem:6514", TLS: true, CAFile: "syslog_test.go"}, "no PEM certificate"},
	} {
		_, err := NewSyslog(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewSyslog(%+v) = %v, want an error with %q", tc.cfg, err, tc.want)
		}
	}
	s, err := NewSyslog(SyslogConfig{Address: "[::1]:6514", TLS: true, Facility: FacilityAuthpriv})
	if err != nil {
		t.Fatal(err)
	}
	if s.tls.ServerName != "::1" || s.hdr.facility != 10 || s.hdr.appName != "sluice" || s.hdr.hostname == "" {
		t.Fatalf("defaults: server name %q, header %+v", s.tls.ServerName, s.hdr)
	}
}
