package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/syncml"
)

// sessConn is the connection one session of a device runs on (simDevice.own): the session's
// messages go out on it one after the other (HTTP/1.1 keep-alive within the session), and it
// is closed when the session ends. Writing the requests directly, as the push channel does,
// keeps the tool's own CPU per session down: it shares the machine with the server it
// measures.
type sessConn struct {
	c  net.Conn
	br *bufio.Reader
}

// sessionTimeout bounds each message's round trip, as the tool's HTTP client does.
const sessionTimeout = 30 * time.Second

// postOwn sends one message of the session on the session's connection, dialling it (and
// resuming the device's TLS session) for the first.
func (d *simDevice) postOwn(ctx context.Context, body []byte) (*syncml.Message, error) {
	u, err := url.Parse(d.mgmtURL)
	if err != nil {
		return nil, err
	}
	if d.conn == nil {
		dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: sessionTimeout}, Config: d.tls}
		c, err := dialer.DialContext(ctx, "tcp", u.Host)
		if err != nil {
			return nil, err
		}
		d.conn = &sessConn{c: c, br: bufio.NewReaderSize(c, 4096)}
	}
	c := d.conn
	_ = c.c.SetDeadline(time.Now().Add(sessionTimeout))
	var req bytes.Buffer
	fmt.Fprintf(&req, "POST %s?mode=Maintenance&Platform=WoA HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nUser-Agent: MSFT OMA DM Client/1.2.0.1\r\nContent-Length: %d\r\n\r\n",
		u.EscapedPath(), u.Host, syncml.ContentType, len(body))
	req.Write(body)
	if _, err := c.c.Write(req.Bytes()); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	if resp.Close {
		d.endSession() // the server ends the connection: the next message dials again
	}
	return syncml.Parse(raw)
}

// endSession closes the session's own connection, if it has one.
func (d *simDevice) endSession() {
	if d.conn != nil {
		_ = d.conn.c.Close()
		d.conn = nil
	}
}
