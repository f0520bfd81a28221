package omadm

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hellomdm/hellomdm/csp"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/device/internal/httpx"
	"github.com/hellomdm/hellomdm/syncml"
)

// maxSessionMessages bounds one session, so a server that never ends one cannot keep the
// agent busy forever.
const maxSessionMessages = 200

// Applied is one command (or one Item of a command) the server sent and the status the
// device answered.
type Applied struct {
	CmdID  string
	Verb   string
	LocURI string // the Item's Target; "" for Atomic and Sequence
	Status int
}

// Report describes one OMA-DM session.
type Report struct {
	SessionID  string
	Messages   int       // client messages sent
	Applied    []Applied // in execution order
	Changed    []string  // canonical URIs of nodes whose stored value changed, sorted
	Unenrolled bool      // the session unenrolled the device
}

// RefusedError is a server reply whose SyncHdr Status refused the message (e.g. 401 for a
// replaced certificate, 403 for an unenrolled device or a DeviceID that is not the
// certificate's; MS-MDM; docs/protocol.md E.2).
type RefusedError struct {
	SessionID string
	Status    int
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("server refused session %s: SyncHdr status %d (%s)", e.SessionID, e.Status, syncml.StatusText(e.Status))
}

// HTTPError is a management request answered with an HTTP error instead of SyncML.
type HTTPError struct {
	Status int
	Body   string // first bytes, for diagnostics
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("management server answered HTTP %d: %s", e.Status, e.Body)
}

// Session configures one OMA-DM session.
type Session struct {
	// Client presents the device certificate and trusts the provisioned root.
	Client *http.Client
	// ManagementURL is the enrollment's APPLICATION ADDR.
	ManagementURL string
	// SessionID is the DMClient's decimal session counter.
	SessionID string
	Identity  identity.Identity
	// Tree executes the server's commands.
	Tree *csp.Tree
	// MaxMsgSize is announced in every SyncHdr Meta and bounds the client's messages.
	MaxMsgSize int
	// LoginStatus is the data of the Alert 1224 LoginStatus event: user, others or none.
	LoginStatus string
	// Unenroll adds the unenrollment alert (Alert 1226) to package 1.
	Unenroll bool
	// Reported returns the items package 1 Replaces after DMClient/HWDevID: hellomdm's
	// DeviceState, HelloStatus and PinResetService nodes. May be nil.
	Reported func() ([]syncml.Item, error)
	Rand     io.Reader
	Now      func() time.Time
	Log      *slog.Logger
}

// Run runs the session to completion (MS-MDM; docs/protocol.md B): package 1, then one
// message per server reply, executing each command through the tree and answering with
// Status and Results, until a reply carries no new commands. A malformed reply or an HTTP
// error ends the session with an error; changes already applied stay applied, as on
// Windows. The report lists what the session applied and changed also when it fails.
func Run(ctx context.Context, cfg Session) (Report, error) {
	cv, err := newCorrelationVector(cfg.Rand)
	if err != nil {
		return Report{}, err
	}
	s := &session{cfg: cfg, ctx: ctx, cv: cv, sid: cfg.SessionID, limit: cfg.MaxMsgSize}
	s.report.SessionID = s.sid
	before := snapshot(cfg.Tree.Nodes())
	runErr := s.run(cfg.Unenroll)
	s.report.Changed = diff(before, snapshot(cfg.Tree.Nodes()))
	return s.report, runErr
}

// session is one running OMA-DM session.
type session struct {
	cfg    Session
	ctx    context.Context
	cv     *correlationVector
	sid    string
	msgID  int
	limit  int
	report Report
	queue  []syncml.Command // Statuses and Results not sent yet, in order
	// serverOpen: the server's last message continued its package (no Final, no Alert 1222),
	// so the client must ask for the rest with Alert 1222 and hold back its own Final.
	serverOpen bool
}

func (s *session) header() syncml.Header {
	return syncml.Header{SessionID: s.sid, MsgID: strconv.Itoa(s.msgID), Target: s.cfg.ManagementURL,
		Source: s.cfg.Identity.DeviceID, Meta: &syncml.Meta{MaxMsgSize: s.limit}}
}

// first builds package 1 as Windows does (docs/protocol.md B.3): CmdIDs from 2, Alert 1201,
// Alert 1224 LoginStatus, [Alert 1226 unenrollment], Replace of DevInfo (no Meta), then a
// Replace of DMClient/HWDevID and hellomdm's reporting nodes (Session.Reported), which the
// server records.
func (s *session) first(unenroll bool) ([]byte, error) {
	s.msgID = 1
	b := syncml.NewBuilder(s.header(), 2)
	b.Alert(syncml.AlertClientInitiated)
	b.Alert(syncml.AlertClientEvent, syncml.Item{Meta: &syncml.Meta{Type: syncml.TypeLoginStatus}, Data: s.cfg.LoginStatus})
	if unenroll {
		b.Alert(syncml.AlertGeneric, syncml.Item{Meta: &syncml.Meta{Type: syncml.TypeUnenrollUser, Format: "int"}, Data: "1"})
	}
	var items []syncml.Item
	for _, n := range []string{"DevId", "Man", "Mod", "DmV", "Lang"} {
		v, _ := DevInfoValue(s.cfg.Identity, "./DevInfo/"+n, s.cfg.Now)
		items = append(items, syncml.Item{Source: "./DevInfo/" + n, Data: v})
	}
	b.Command(syncml.Command{Verb: syncml.VerbReplace, Items: items})
	extra := []syncml.Item{{Source: "./Vendor/MSFT/DMClient/HWDevID", Data: s.cfg.Identity.HWDevID}}
	if s.cfg.Reported != nil {
		items, err := s.cfg.Reported()
		if err != nil {
			return nil, err
		}
		extra = append(extra, items...)
	}
	b.Command(syncml.Command{Verb: syncml.VerbReplace, Items: extra})
	return b.Bytes(true)
}

func (s *session) run(unenroll bool) error {
	out, err := s.first(unenroll)
	if err != nil {
		return fmt.Errorf("building package 1: %w", err)
	}
	for {
		if s.report.Messages >= maxSessionMessages {
			return fmt.Errorf("session %s: more than %d messages; giving up", s.sid, maxSessionMessages)
		}
		reply, err := s.post(out)
		if err != nil {
			return err
		}
		more, err := s.handle(reply)
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
		if out, err = s.next(reply); err != nil {
			return err
		}
	}
}

// post sends one message with the headers Windows uses (docs/protocol.md B.1) and parses the
// reply.
func (s *session) post(body []byte) (*syncml.Message, error) {
	req, err := http.NewRequest(http.MethodPost, s.cfg.ManagementURL+"?mode=Maintenance&Platform=WoA", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", s.sid, err)
	}
	h := req.Header
	h.Set("Content-Type", syncml.ContentType)
	h.Set("Accept", httpx.AcceptOMADM)
	h.Set("Accept-Charset", "UTF-8")
	h.Set("User-Agent", httpx.UserAgentOMADM)
	h.Set("Client-Request-Id", "0")
	h.Set("MS-CV", s.cv.next())
	s.report.Messages++
	resp, err := httpx.Do(s.ctx, s.cfg.Client, req)
	if err != nil {
		return nil, fmt.Errorf("session %s: posting message %d: %w", s.sid, s.msgID, err)
	}
	if resp.Status != http.StatusOK {
		snippet := string(resp.Body)
		if len(snippet) > 200 {
			snippet = snippet[:200]
		}
		return nil, fmt.Errorf("session %s: %w", s.sid, &HTTPError{Status: resp.Status, Body: snippet})
	}
	msg, err := syncml.ParseWithLimits(resp.Body, syncml.Limits{MaxBytes: max(s.limit, 4096)})
	if err != nil {
		return nil, fmt.Errorf("session %s: malformed server message: %w", s.sid, err)
	}
	return msg, nil
}

// handle checks a server reply and executes its commands; more says whether the session
// continues.
func (s *session) handle(m *syncml.Message) (bool, error) {
	if m.Header.SessionID != s.sid {
		return false, fmt.Errorf("session %s: server replied for session %q", s.sid, m.Header.SessionID)
	}
	if m.Header.Target != s.cfg.Identity.DeviceID {
		return false, fmt.Errorf("session %s: server reply is addressed to %q", s.sid, m.Header.Target)
	}
	code := 0
	for _, c := range m.Body {
		if c.Verb == syncml.VerbStatus && c.CmdRef == "0" && c.Cmd == syncml.CmdSyncHdr {
			n, err := c.StatusCode()
			if err != nil {
				return false, fmt.Errorf("session %s: %w", s.sid, err)
			}
			code = n
			break
		}
	}
	switch code {
	case syncml.StatusOK, syncml.StatusAuthAccepted:
	case 0:
		return false, fmt.Errorf("session %s: server reply has no Status for our SyncHdr", s.sid)
	default:
		return false, &RefusedError{SessionID: s.sid, Status: code}
	}
	msgRef := m.Header.MsgID
	newCommands, wantsNext := false, false
	for _, c := range m.Body {
		switch c.Verb {
		case syncml.VerbStatus, syncml.VerbResults:
			continue
		case syncml.VerbAlert:
			n, err := c.AlertCode()
			status := syncml.StatusOK
			switch {
			case err != nil:
				status = syncml.StatusBadRequest
			case n == syncml.AlertSessionAbort:
				s.cfg.Log.Info("server aborted the session", "session", s.sid)
				return false, nil
			case n == syncml.AlertNextMessage:
				wantsNext = true
			default:
				status = syncml.StatusOptionalNotSupported
			}
			s.queue = append(s.queue, statusFor(msgRef, c.CmdID, c.Verb, "", status))
			continue
		}
		newCommands = true
		for _, o := range s.cfg.Tree.Execute(c) {
			s.queue = append(s.queue, statusFor(msgRef, o.CmdID, o.Verb, o.TargetRef, o.Status))
			if len(o.Results) > 0 {
				s.queue = append(s.queue, syncml.Command{Verb: syncml.VerbResults, MsgRef: msgRef, CmdRef: o.CmdID, Items: o.Results})
			}
			s.report.Applied = append(s.report.Applied, Applied{CmdID: o.CmdID, Verb: o.Verb, LocURI: o.TargetRef, Status: o.Status})
		}
	}
	s.serverOpen = !m.Final && !wantsNext
	// The session ends when the server's reply closes its package with nothing new for us to
	// answer (docs/protocol.md B.11).
	if m.Final && !newCommands && len(s.queue) == 0 {
		return false, nil
	}
	return true, nil
}

func statusFor(msgRef, cmdRef, verb, target string, code int) syncml.Command {
	c := syncml.Command{Verb: syncml.VerbStatus, MsgRef: msgRef, CmdRef: cmdRef, Cmd: verb, Data: strconv.Itoa(code)}
	if target != "" {
		c.TargetRef = []string{target}
	}
	return c
}

// next builds the client's next message: Status for the server's SyncHdr, then queued
// Statuses and Results while they fit MaxMsgSize (the smaller of ours and the server's).
// What does not fit waits for the next message, which the server asks for with Alert 1222;
// Final is set only when everything was sent and the server's package was final
// (OMA-TS-DM_Protocol-V1_2_1 §6; docs/protocol.md B.10).
func (s *session) next(reply *syncml.Message) ([]byte, error) {
	s.msgID++
	limit := s.limit
	if m := reply.MaxMsgSize(); m > 0 && m < limit {
		limit = m
	}
	b := syncml.NewBuilder(s.header(), 1)
	b.StatusSyncHdr(reply.Header.MsgID, syncml.StatusOK, nil)
	const finalLen = len("<Final/>")
	sent := 0
	for _, c := range s.queue {
		if b.Len() > 1 && b.Size(false)+b.CommandSize(c)+finalLen > limit {
			break
		}
		// A single response larger than the limit still goes, alone: there is nothing
		// smaller to split it into (chunking is not implemented).
		if _, err := b.TryCommand(c); err != nil {
			return nil, fmt.Errorf("session %s: encoding reply: %w", s.sid, err)
		}
		sent++
	}
	s.queue = s.queue[sent:]
	final := len(s.queue) == 0 && !s.serverOpen
	if len(s.queue) == 0 && s.serverOpen {
		b.Alert(syncml.AlertNextMessage) // the server's package continues: ask for it
	}
	return b.Bytes(final)
}

func snapshot(nodes []csp.NodeValue) map[string]string {
	m := make(map[string]string, len(nodes))
	for _, n := range nodes {
		m[n.URI] = string(n.Format) + "\x00" + n.Value
	}
	return m
}

func diff(before, after map[string]string) []string {
	var out []string
	for k, v := range after {
		if old, ok := before[k]; !ok || old != v {
			out = append(out, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// correlationVector is the MS-CV header value: a random base and an extension that grows by
// one with each request (Microsoft Correlation Vector v1: 16 base64 characters, '.', int).
type correlationVector struct {
	mu   sync.Mutex
	base string
	n    int
}

func newCorrelationVector(rnd io.Reader) (*correlationVector, error) {
	var b [12]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return nil, fmt.Errorf("making correlation vector: %w", err)
	}
	return &correlationVector{base: base64.StdEncoding.EncodeToString(b[:])}, nil
}

// next returns the value for the next request: base.1, base.2, …
func (cv *correlationVector) next() string {
	cv.mu.Lock()
	defer cv.mu.Unlock()
	cv.n++
	return cv.base + "." + strconv.Itoa(cv.n)
}
