package push

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/hellomdm/hellomdm/store"
)

// ContentType is the channel's media type (server-sent events).
const ContentType = "text/event-stream"

// writeTimeout bounds each write on a channel: a peer that stopped reading is dropped.
const writeTimeout = 10 * time.Second

// ErrShuttingDown is Serve's answer once the hub is closing (the caller answers 503).
var ErrShuttingDown = errClosed

// Serve holds device d's channel on the response until the client goes, a newer connection of
// the device replaces it, or the hub closes. The caller has identified d by its client
// certificate and checked that it is enrolled. Before the stream starts it returns
// ErrShuttingDown (nothing written) when the hub is closing; afterwards it returns the error
// that ended the stream, nil when the client or the hub ended it.
func (h *Hub) Serve(w http.ResponseWriter, r *http.Request, d store.Device) error {
	c, err := h.connect(d)
	if err != nil {
		return err
	}
	defer h.disconnect(d.ID, c)
	rc := http.NewResponseController(w)
	// The server's read timeout covers a whole request; this one lasts as long as the
	// channel. A client that goes away is seen by the connection's background read.
	_ = rc.SetReadDeadline(time.Time{})
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	hello := `{"heartbeat":` + strconv.Itoa(int(h.o.Heartbeat/time.Second)) + `,"replica":"` + h.replica + `"}`
	if err := writeEvent(rc, w, "hello", hello); err != nil {
		return err
	}
	t := time.NewTicker(h.o.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-c.done:
			return nil
		case reason := <-c.wake:
			err := writeEvent(rc, w, "wake", `{"reason":"`+string(reason)+`"}`)
			h.written(d.ID, c, err)
			if err != nil {
				return err
			}
		case <-t.C:
			if err := writeEvent(rc, w, "ping", "{}"); err != nil {
				return err
			}
		}
	}
}

// writeEvent writes one server-sent event and flushes it, within writeTimeout.
func writeEvent(rc *http.ResponseController, w io.Writer, event, data string) error {
	if err := rc.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
		return err
	}
	return rc.Flush()
}
