package route

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// A known path with another method answers 405 with Allow naming the methods it serves, as
// net/http's ServeMux does; an unknown path 404; GET routes answer HEAD too.
func TestNewRouter(t *testing.T) {
	r := NewRouter()
	r.HandleFunc("/a/{id}", func(w http.ResponseWriter, req *http.Request) { w.WriteHeader(http.StatusNoContent) }).Methods(GET...)
	r.HandleFunc("/a/{id}", func(w http.ResponseWriter, req *http.Request) { w.WriteHeader(http.StatusAccepted) }).Methods(http.MethodPost)
	cases := []struct {
		method, path string
		want         int
		allow        string
	}{
		{http.MethodGet, "/a/1", http.StatusNoContent, ""},
		{http.MethodHead, "/a/1", http.StatusNoContent, ""},
		{http.MethodPost, "/a/1", http.StatusAccepted, ""},
		{http.MethodDelete, "/a/1", http.StatusMethodNotAllowed, "GET, HEAD, POST"},
		{http.MethodGet, "/b", http.StatusNotFound, ""},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != c.want || rec.Header().Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow %q, want %d Allow %q", c.method, c.path, rec.Code, rec.Header().Get("Allow"), c.want, c.allow)
		}
		if c.want == http.StatusMethodNotAllowed && rec.Body.String() != "Method Not Allowed\n" {
			t.Errorf("405 body %q", rec.Body.String())
		}
	}
}
