package httpup

import (
	"net/http"
	"reflect"
	"testing"
)

func TestRemoveHopHeaders(t *testing.T) {
	tests := []struct {
		name string
		in   http.Header
		want http.Header
	}{
		{
			name: "fixed hop headers",
			in: http.Header{
				"Connection": {"keep-alive"}, "Keep-Alive": {"timeout=5"}, "Proxy-Connection": {"keep-alive"},
				"Trailer": {"X-T"}, "Transfer-Encoding": {"chunked"}, "Upgrade": {"h2c"}, "Te": {"gzip"},
				"Content-Type": {"text/plain"},
			},
			want: http.Header{"Content-Type": {"text/plain"}},
		},
		{
			name: "headers named in Connection",
			in:   http.Header{"Connection": {"X-A, x-b", " X-C "}, "X-A": {"1"}, "X-B": {"2"}, "X-C": {"3"}, "X-D": {"4"}},
			want: http.Header{"X-D": {"4"}},
		},
		{
			name: "TE trailers kept",
			in:   http.Header{"Connection": {"TE"}, "Te": {"gzip;q=0.5, trailers"}},
			want: http.Header{"Te": {"trailers"}},
		},
		{
			name: "nothing to remove",
			in:   http.Header{"Accept": {"*/*"}},
			want: http.Header{"Accept": {"*/*"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			RemoveHopHeaders(tt.in)
			if !reflect.DeepEqual(tt.in, tt.want) {
				t.Errorf("got %v, want %v", tt.in, tt.want)
			}
		})
	}
}
