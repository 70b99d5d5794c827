package rsyslog

import (
	"errors"
	"net"
	"testing"
	"time"
)

// A port taken by someone else is reported as such, quickly, and leaves no
// daemon running.
func TestStartOnTakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r, err := newRsyslog(t, Options{StartTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r.cfg.port = l.Addr().(*net.TCPAddr).Port
	start := time.Now()
	err = r.start()
	if !errors.Is(err, errPortInUse) {
		t.Fatalf("start on a taken port: %v, want errPortInUse", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s to notice", d)
	}
	if r.Running() {
		t.Fatal("rsyslogd left running")
	}
}
