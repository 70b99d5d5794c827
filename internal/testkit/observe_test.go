package testkit

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

func TestGauge(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "# TYPE go_goroutines gauge\ngo_goroutines_total 1\ngo_goroutines 17\nsluice_sessions{proto=\"pg\"} 3\n")
	}))
	defer srv.Close()
	ctx := context.Background()
	if v, err := Gauge(ctx, srv.URL, "go_goroutines"); err != nil || v != 17 {
		t.Errorf("go_goroutines = %v, %v; want 17", v, err)
	}
	if _, err := Gauge(ctx, srv.URL, "sluice_sessions"); err == nil {
		t.Error("a labelled series was read as the unlabelled gauge")
	}
}

func TestProcStatusKiB(t *testing.T) {
	if kb, err := ProcStatusKiB(os.Getpid(), "VmRSS"); err != nil || kb <= 0 {
		t.Errorf("VmRSS = %d, %v", kb, err)
	}
	if _, err := ProcStatusKiB(os.Getpid(), "NoSuchField"); err == nil {
		t.Error("a missing field was read")
	}
}
