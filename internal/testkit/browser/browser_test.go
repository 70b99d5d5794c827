package browser_test

import (
	"bytes"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/testkit/browser"
)

// site is a small web app for the browser to drive: a form, a button that
// changes the page from JavaScript, and a page fed by server-sent events
// that the test pushes.
type site struct {
	*httptest.Server
	events chan string
}

func newSite(t *testing.T) *site {
	s := &site{events: make(chan string)}
	mux := http.NewServeMux()
	page := func(w http.ResponseWriter, title, body string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><html><head><meta charset=utf-8><title>%s</title></head><body>%s</body></html>", title, body)
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		page(w, "form", `<form method="post" action="/submit">
<label>Name <input id="name" name="name"></label>
<select id="color" name="color"><option value="red">Red</option><option value="blue">Blue</option></select>
<button id="send">Send</button></form>
<ul><li>one</li><li>two</li><li>three</li></ul>`)
	})
	mux.HandleFunc("POST /submit", func(w http.ResponseWriter, r *http.Request) {
		page(w, "submitted", `<p id="greeting">Hello, `+html.EscapeString(r.PostFormValue("name"))+
			` in `+html.EscapeString(r.PostFormValue("color"))+`</p>`)
	})
	mux.HandleFunc("GET /button", func(w http.ResponseWriter, r *http.Request) {
		page(w, "button", `<button id="b">Press</button><p id="out">not yet</p>
<script>
let n = 0;
console.log("hello from the page");
document.getElementById("b").addEventListener("click", () => {
  setTimeout(() => { document.getElementById("out").textContent = "clicked " + (++n); }, 100);
});
</script>`)
	})
	mux.HandleFunc("GET /live", func(w http.ResponseWriter, r *http.Request) {
		page(w, "live", `<p id="status">connecting</p><ul id="feed"></ul>
<script>
const es = new EventSource("/events");
es.onopen = () => { document.getElementById("status").textContent = "open"; };
es.onmessage = (e) => {
  const li = document.createElement("li");
  li.textContent = e.data;
  document.getElementById("feed").appendChild(li);
};
</script>`)
	})
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		for {
			select {
			case <-r.Context().Done():
				return
			case msg := <-s.events:
				fmt.Fprintf(w, "data: %s\n\n", msg)
				w.(http.Flusher).Flush()
			}
		}
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// push sends msg to the page that has the event stream open.
func (s *site) push(t *testing.T, msg string) {
	t.Helper()
	select {
	case s.events <- msg:
	case <-time.After(10 * time.Second):
		t.Fatalf("no page listens for %q", msg)
	}
}

func isPNG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 1000 {
		t.Fatalf("%s is not a PNG of a page (%d bytes)", path, len(b))
	}
}

func TestDrivePage(t *testing.T) {
	s := newSite(t)
	b := browser.Start(t)
	if !strings.HasPrefix(b.Version(), "1") {
		t.Fatalf("Chromium version %q", b.Version())
	}
	p := b.NewPage(t)

	if status := p.Goto(s.URL + "/"); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	if n := p.Count("li"); n != 3 {
		t.Fatalf("%d list items", n)
	}
	p.Fill("#name", "Ada <Lovelace>")
	p.Select("#color", "blue")
	p.Click("#send")
	p.WaitURL(s.URL + "/submit")
	if got := p.Text("#greeting"); got != "Hello, Ada <Lovelace> in blue" {
		t.Fatalf("greeting %q", got)
	}
	if p.URL() != s.URL+"/submit" {
		t.Fatalf("URL %s", p.URL())
	}

	p.Goto(s.URL + "/button")
	p.Click("#b")
	p.WaitText("#out", "clicked 1")
	p.Click("text=Press")
	p.WaitText("#out", "clicked 2")
	if v := p.Eval("1 + 2"); v != 3.0 {
		t.Fatalf("eval 1 + 2 = %v", v)
	}
	if v := p.Eval("() => document.title"); v != "button" {
		t.Fatalf("eval title = %v", v)
	}
	if v := p.Eval("Promise.resolve({a: [1, 'x']})"); fmt.Sprint(v) != "map[a:[1 x]]" {
		t.Fatalf("eval object = %v", v)
	}
	if !strings.Contains(p.HTML(), `<p id="out">clicked 2</p>`) {
		t.Fatalf("html %s", p.HTML())
	}
	shot := p.Screenshot("after clicks")
	isPNG(t, shot)
	if !strings.HasPrefix(shot, b.ArtifactsDir()) || !strings.HasSuffix(shot, "-after_clicks.png") {
		t.Fatalf("screenshot at %s, artifacts in %s", shot, b.ArtifactsDir())
	}
	if log := strings.Join(p.Log(), "\n"); !strings.Contains(log, "console.log: hello from the page") {
		t.Fatalf("page log:\n%s", log)
	}

	// Go and the browser take turns: the page shows what the test pushes.
	p.Goto(s.URL + "/live")
	p.WaitText("#status", "open")
	s.push(t, "statement 1 waits")
	p.WaitText("#feed li", "statement 1 waits")
	s.push(t, "statement 1 approved")
	p.WaitText("#feed", "approved")
	if n := p.Count("#feed li"); n != 2 {
		t.Fatalf("%d events shown", n)
	}
	p.WaitGone("#nothing")
}

func TestPagesAreIsolatedAndConcurrent(t *testing.T) {
	s := newSite(t)
	b := browser.Start(t)
	t.Run("pages", func(t *testing.T) {
		for i := range 3 {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				p := b.NewPage(t)
				p.Goto(s.URL + "/")
				p.Fill("#name", fmt.Sprint("user", i))
				p.Eval(fmt.Sprintf("() => { document.cookie = 'n=%d'; }", i))
				if got := p.Eval("document.cookie"); got != fmt.Sprintf("n=%d", i) {
					t.Errorf("page %d sees cookies %q", i, got)
				}
				p.Click("#send")
				p.WaitText("#greeting", fmt.Sprint("Hello, user", i))
			})
		}
	})
}

// recorder is a testing.TB whose Fatal stops the goroutine and keeps the
// message, so that a test can look at how a Page fails.
type recorder struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (r *recorder) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }
func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.msg = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

// failure runs f, which must fail, and returns its message.
func (r *recorder) failure(t *testing.T, f func()) string {
	t.Helper()
	done := make(chan bool)
	go func() {
		defer close(done)
		f()
		done <- true
	}()
	if <-done {
		t.Fatal("the action did not fail")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.msg
}

func TestFailuresAreClear(t *testing.T) {
	s := newSite(t)
	b := browser.Start(t)
	rec := &recorder{TB: t}
	p := b.NewPage(rec)
	p.SetTimeout(500 * time.Millisecond)
	p.Goto(s.URL + "/button")

	msg := rec.failure(t, func() { p.WaitFor("#approve") })
	for _, want := range []string{`browser: wait for "#approve"`, "500ms", "page: " + s.URL + "/button", "screenshot: ", "console.log: hello from the page"} {
		if !strings.Contains(msg, want) {
			t.Errorf("failure message lacks %q:\n%s", want, msg)
		}
	}
	_, after, _ := strings.Cut(msg, "screenshot: ")
	isPNG(t, strings.Fields(after)[0])
	t.Logf("a failed wait reads:\n%s", msg)

	msg = rec.failure(t, func() { p.WaitText("#out", "approved") })
	if !strings.Contains(msg, `it holds ["not yet"]`) {
		t.Errorf("failed WaitText does not say what the element holds:\n%s", msg)
	}
	p.Goto(s.URL + "/")
	msg = rec.failure(t, func() { p.Click("li") })
	if !strings.Contains(msg, "strict mode violation") {
		t.Errorf("ambiguous click:\n%s", msg)
	}
	msg = rec.failure(t, func() { p.Eval("() => { throw new Error('boom') }") })
	if !strings.Contains(msg, "boom") {
		t.Errorf("failed eval:\n%s", msg)
	}
	// The page still works after failures.
	p.SetTimeout(browser.DefaultTimeout)
	p.Fill("#name", "still here")
}

func TestArtifactsEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(browser.ArtifactsEnv, dir)
	s := newSite(t)
	t.Run("sub/test", func(t *testing.T) {
		b := browser.Start(t)
		want := dir + "/TestArtifactsEnv_sub_test"
		if b.ArtifactsDir() != want {
			t.Fatalf("artifacts in %s, want %s", b.ArtifactsDir(), want)
		}
		p := b.NewPage(t)
		p.Goto(s.URL + "/")
		isPNG(t, p.Screenshot("form"))
	})
	// Kept after the test, with its step log.
	steps, err := os.ReadFile(dir + "/TestArtifactsEnv_sub_test/steps.log")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(steps), "goto "+s.URL) || !strings.Contains(string(steps), "screenshot 001-form.png") {
		t.Fatalf("steps.log:\n%s", steps)
	}
	isPNG(t, dir+"/TestArtifactsEnv_sub_test/001-form.png")
}
