package httpproxy_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkProxyGET measures a small JSON GET through the proxy (gate,
// in-memory journal, credential injection), against the same GET sent to
// the upstream directly, over loopback with keep-alive.
func BenchmarkProxyGET(b *testing.B) {
	body := `{"items":[{"id":1,"name":"alpha"},{"id":2,"name":"beta"}]}`
	h := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	}
	for _, c := range []struct {
		name string
		opts options
	}{{"plain", options{}}, {"masked", maskOptions()}} {
		s := newSetup(b, h, c.opts)
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
		get := func(url string, auth bool) {
			req, _ := http.NewRequest("GET", url, nil)
			if auth {
				req.Header.Set("Authorization", "Bearer "+agentToken)
			}
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(got), "alpha") {
				b.Fatalf("%d %s", resp.StatusCode, got)
			}
		}
		if c.name == "plain" {
			b.Run("direct", func(b *testing.B) {
				for b.Loop() {
					get(s.up.srv.URL+"/v1/items", false)
				}
			})
		}
		b.Run("sluice-"+c.name, func(b *testing.B) {
			for b.Loop() {
				get(s.url+"/proxy/api/v1/items", true)
			}
		})
	}
}
