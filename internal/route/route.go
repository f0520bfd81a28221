// Package route makes the gorilla/mux routers of the packages that serve more than one route
// (the project's routing convention, docs/style.md).
package route

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"
)

// methods are the methods a 405 answer may list in Allow.
var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}

// NewRouter returns a router whose answer to a known path with a method it does not serve is
// what net/http's ServeMux answers: 405 "Method Not Allowed" with the methods the path does
// serve in Allow. Unknown paths answer ServeMux's 404.
func NewRouter() *mux.Router {
	r := mux.NewRouter()
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var allow []string
		for _, m := range methods {
			probe := req.Clone(req.Context())
			probe.Method = m
			var match mux.RouteMatch
			if r.Match(probe, &match) && match.MatchErr == nil {
				allow = append(allow, m)
			}
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
	})
	return r
}

// GET is the methods of a route that reads: GET, and HEAD as net/http serves it.
var GET = []string{http.MethodGet, http.MethodHead}
