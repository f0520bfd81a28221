package console

import (
	"bytes"
	"io"
	"net/http"

	"github.com/hellomdm/hellomdm/server/adminapi"
	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
)

// apiBase is the base URL the console's admin client is given; the transport never dials it.
const apiBase = "http://in-process"

// inProcess is the admin client's transport: it serves each request with the admin API's
// in-process handler (adminapi.API.InProcess), acting as p.
type inProcess struct {
	h http.Handler
	p adminapi.Principal
}

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(adminapi.ActingAs(req.Context(), t.p))
	r.RemoteAddr = t.p.Addr
	r.RequestURI = req.URL.RequestURI()
	if r.Body == nil {
		r.Body = http.NoBody
	}
	rec := &recorder{header: http.Header{}}
	t.h.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return &http.Response{
		Status: http.StatusText(rec.status), StatusCode: rec.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: rec.header, Body: io.NopCloser(bytes.NewReader(rec.body.Bytes())), ContentLength: int64(rec.body.Len()), Request: req,
	}, nil
}

// recorder is the http.ResponseWriter the in-process handler writes to.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// clientFor returns the typed admin client acting as p. Idempotency keys are not sent: the
// in-process transport never loses an answer, so nothing is ever sent twice.
func (c *Console) clientFor(p adminapi.Principal) *adminclient.Client {
	return adminclient.New(adminclient.Config{Server: apiBase, HTTPClient: &http.Client{Transport: inProcess{h: c.api, p: p}},
		PostAttempts: 1, NoIdempotencyKeys: true})
}
