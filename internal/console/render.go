package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// assetVersion changes whenever an asset does, so that asset URLs
// (?v=...) can be cached for long.
var assetVersion = func() string {
	h := sha256.New()
	fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := assetFS.ReadFile(p)
			h.Write([]byte(p))
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}()

// serveAsset serves an embedded CSS or JS file.
func serveAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	b, err := assetFS.ReadFile("assets/" + name)
	if err != nil || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", mime.TypeByExtension(path.Ext(name)))
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Header().Del("Pragma")
	w.Write(b)
}

var funcs = template.FuncMap{
	"sql": func(text string) []token { return highlight(text) },
	"classes": func(c sluice.Class) []string {
		if c == 0 {
			return nil
		}
		return c.Names()
	},
	"ts": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	"dur":   fmtDuration,
	"since": func(now, t time.Time) string { return fmtDuration(now.Sub(t).Truncate(time.Second)) },
	"offset": func(start, t time.Time) string {
		return fmt.Sprintf("+%.3fs", t.Sub(start).Seconds())
	},
	"value": func(v *string) string {
		if v == nil {
			return "NULL"
		}
		return *v
	},
	"join":  strings.Join,
	"path":  pathEscape,
	"asset": func(name string) string { return "/console/assets/" + name + "?v=" + assetVersion },
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, fmt.Errorf("dict: odd number of arguments")
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
	"limits": func() []int { return []int{50, 100, 250, 500, 1000} },
	"short":  func(s string) string { return oneLine(s, 120) },
}

// fmtDuration says a duration briefly: 850ms, 12.5s, 3m 4s, 2h 5m.
func fmtDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + fmtDuration(-d)
	case d < time.Millisecond:
		return d.String()
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
}

// pages are the console's templates by page name; each is the layout
// with the page's "content" block.
var pages = func() map[string]*template.Template {
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html"))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	m := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" || name == "parts" {
			continue
		}
		m[name] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, n))
	}
	return m
}()

// pageData is what the layout and every page get.
type pageData struct {
	Title string
	// Nav names the active navigation item.
	Nav    string
	Viewer *viewer
	Now    time.Time
	// Flash is a message about the last action (role=status); Error one
	// about a failure (role=alert).
	Flash, Error string
	// Refresh, when set, reloads the page after that many seconds (a
	// verify in progress), without JavaScript.
	Refresh int
	Data    any
}

// render writes a whole page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p *pageData) {
	p.Now = s.now()
	s.execute(w, r, status, pages[name], "layout.html", p)
}

// renderPart writes one named template of a page, for scripts that
// refresh part of it.
func (s *Server) renderPart(w http.ResponseWriter, r *http.Request, page, part string, p *pageData) {
	p.Now = s.now()
	s.execute(w, r, http.StatusOK, pages[page], part, p)
}

func (s *Server) execute(w http.ResponseWriter, r *http.Request, status int, t *template.Template, name string, p *pageData) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, p); err != nil {
		s.log().Error("console: render page", "path", r.URL.Path, "template", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail shows an error page.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, v *viewer, status int, msg string) {
	s.render(w, r, status, "error", &pageData{Title: http.StatusText(status), Viewer: v, Error: msg,
		Data: map[string]any{"Status": status}})
}

// noAccess explains to a logged-in person why they see nothing.
func (s *Server) noAccess(w http.ResponseWriter, r *http.Request, v *viewer) {
	s.render(w, r, http.StatusForbidden, "noaccess", &pageData{Title: "No access", Viewer: v})
}

func queryEscape(s string) string { return url.QueryEscape(s) }
func pathEscape(s string) string  { return url.PathEscape(s) }

// origin returns the scheme://host of an absolute URL, or "".
func origin(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" || p.Host == "" {
		return ""
	}
	return p.Scheme + "://" + p.Host
}
