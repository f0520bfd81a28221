package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/syncml"
)

// runSession is one OMA-DM session: package 1, then a Status for every command the server
// sends, until the server's reply carries no commands.
func (d *simDevice) runSession(ctx context.Context) (msgs, cmds int, lat []time.Duration, err error) {
	d.session++
	defer d.endSession()
	hdr := syncml.Header{VerDTD: syncml.VerDTD, VerProto: syncml.VerProto, SessionID: strconv.Itoa(d.session), MsgID: "1",
		Target: d.mgmtURL, Source: d.id, Meta: &syncml.Meta{MaxMsgSize: 65536}}
	b := syncml.NewBuilder(hdr, 2)
	b.Alert(syncml.AlertClientInitiated)
	b.Alert(syncml.AlertClientEvent, syncml.Item{Meta: &syncml.Meta{Type: syncml.TypeLoginStatus}, Data: "user"})
	b.Command(syncml.Command{Verb: syncml.VerbReplace, Items: []syncml.Item{
		{Source: "./DevInfo/DevId", Data: d.id}, {Source: "./DevInfo/Man", Data: "Contoso Ltd."}, {Source: "./DevInfo/Mod", Data: "Load Test"},
		{Source: "./DevInfo/DmV", Data: "1.3"}, {Source: "./DevInfo/Lang", Data: "en-US"},
	}})
	for msgID := 1; ; msgID++ {
		if msgID > 20 {
			return msgs, cmds, lat, errors.New("session did not end after 20 messages")
		}
		body, err := b.Bytes(true)
		if err != nil {
			return msgs, cmds, lat, err
		}
		t0 := time.Now()
		reply, err := d.post(ctx, body)
		if err != nil {
			return msgs, cmds, lat, err
		}
		lat = append(lat, time.Since(t0))
		msgs++
		if code, _ := statusOf(reply, "0"); code != syncml.StatusOK {
			return msgs, cmds, lat, fmt.Errorf("server answered SyncHdr status %d", code)
		}
		var todo []syncml.Command
		for _, c := range reply.Body {
			switch c.Verb {
			case syncml.VerbStatus, syncml.VerbResults, syncml.VerbAlert:
			default:
				todo = append(todo, c)
			}
		}
		if len(todo) == 0 {
			return msgs, cmds, lat, nil
		}
		hdr.MsgID = strconv.Itoa(msgID + 1)
		b = syncml.NewBuilder(hdr, 1)
		b.StatusSyncHdr(reply.Header.MsgID, syncml.StatusOK, nil)
		for _, c := range todo {
			d.answer(b, reply.Header.MsgID, c)
			cmds++
		}
	}
}

// answer answers one command as a device that holds what it is told: an Add or Replace
// stores its items' values, a Get returns them in Results (404 for a node never written),
// anything else gets 200.
func (d *simDevice) answer(b *syncml.Builder, msgRef string, c syncml.Command) {
	switch c.Verb {
	case syncml.VerbAdd, syncml.VerbReplace:
		if d.values == nil {
			d.values = map[string]string{}
		}
		for _, it := range c.Items {
			d.values[it.Target] = it.Data
		}
	case syncml.VerbGet:
		var items []syncml.Item
		for _, it := range c.Items {
			v, ok := d.values[it.Target]
			if !ok {
				b.Status(msgRef, c, syncml.StatusNotFound)
				return
			}
			items = append(items, syncml.Item{Source: it.Target, Meta: &syncml.Meta{Format: "chr"}, Data: v})
			if strings.HasSuffix(it.Target, pushSettingName) {
				d.verified = v
			}
		}
		b.Status(msgRef, c, syncml.StatusOK)
		b.Results(msgRef, c, items)
		return
	}
	b.Status(msgRef, c, syncml.StatusOK)
}

func (d *simDevice) post(ctx context.Context, body []byte) (*syncml.Message, error) {
	if d.own {
		return d.postOwn(ctx, body)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.mgmtURL+"?mode=Maintenance&Platform=WoA", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", syncml.ContentType)
	req.Header.Set("User-Agent", "MSFT OMA DM Client/1.2.0.1")
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	return syncml.Parse(raw)
}

func statusOf(m *syncml.Message, cmdRef string) (int, bool) {
	for _, c := range m.Body {
		if c.Verb == syncml.VerbStatus && c.CmdRef == cmdRef {
			n, err := c.StatusCode()
			return n, err == nil
		}
	}
	return 0, false
}
