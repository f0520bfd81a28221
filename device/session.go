package device

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"

	"github.com/hellomdm/hellomdm/csp"
	"github.com/hellomdm/hellomdm/device/hello"
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

// Sync runs one OMA-DM session to completion (MS-MDM; docs/protocol.md B): package 1, then one
// message per server reply, executing each command through the CSP tree and answering with
// Status and Results, until a reply carries no new commands. A malformed reply or an HTTP
// error ends the session with an error; changes already applied stay applied, as on
// Windows.
func (a *Agent) Sync(ctx context.Context) (Report, error) {
	rep, err := a.session(ctx, false)
	if a.takeRenewNow() && err == nil && !rep.Unenrolled {
		a.renewRequested(ctx)
	}
	return rep, err
}

// Unenroll tells the server in a new session (Alert 1226 com.microsoft:mdm.unenrollment.userrequest,
// MS-MDM; docs/protocol.md B.9) and marks the device unenrolled. Windows does this best effort
// without retry, and so does the agent: the device is unenrolled locally even when the
// server cannot be told, and the error says so.
func (a *Agent) Unenroll(ctx context.Context) error {
	_, err := a.session(ctx, true)
	if errors.Is(err, ErrNotEnrolled) {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.enr.State == StateEnrolled {
		if uerr := a.markUnenrolledLocked(); uerr != nil {
			return errors.Join(err, uerr)
		}
	}
	if err != nil {
		return fmt.Errorf("unenrolled locally; telling the server failed: %w", err)
	}
	return nil
}

func (a *Agent) markUnenrolledLocked() error {
	prev := a.enr
	a.enr.State = StateUnenrolled
	a.enr.UnenrolledAt = a.opts.Now().UTC()
	if err := a.saveEnrollmentLocked(); err != nil {
		a.enr = prev
		return err
	}
	a.log.Info("unenrolled", "device", a.id.DeviceID)
	return nil
}

// ClientTLS returns a TLS configuration presenting the device's enrollment certificate and
// trusting the provisioned root, for other device-side clients of the server (PIN reset).
func (a *Agent) ClientTLS() (*tls.Config, error) {
	cert, roots, err := a.credentials()
	if err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots, Certificates: []tls.Certificate{cert}}, nil
}

func (a *Agent) credentials() (tls.Certificate, *x509.CertPool, error) {
	if a.Enrollment().State != StateEnrolled {
		return tls.Certificate{}, nil, ErrNotEnrolled
	}
	cert, err := tls.LoadX509KeyPair(a.path(fileClientCert), a.path(fileClientKey))
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("loading the device certificate: %w", err)
	}
	caPEM, err := os.ReadFile(a.path(fileServerCA))
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("loading the server CA: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return tls.Certificate{}, nil, fmt.Errorf("loading the server CA: no certificate in %s", fileServerCA)
	}
	return cert, roots, nil
}

// session is one OMA-DM session; unenroll adds the unenrollment alert to package 1.
type session struct {
	a      *Agent
	ctx    context.Context
	client *http.Client
	cv     *correlationVector
	enr    Enrollment
	id     Identity
	sid    string
	msgID  int
	limit  int
	report Report
	queue  []syncml.Command // Statuses and Results not sent yet, in order
	// serverOpen: the server's last message continued its package (no Final, no Alert 1222),
	// so the client must ask for the rest with Alert 1222 and hold back its own Final.
	serverOpen bool
}

func (a *Agent) session(ctx context.Context, unenroll bool) (Report, error) {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	cert, roots, err := a.credentials()
	if err != nil {
		return Report{}, fmt.Errorf("starting session: %w", err)
	}
	cv, err := newCorrelationVector(a.opts.Rand)
	if err != nil {
		return Report{}, err
	}
	a.mu.Lock()
	a.dm.SessionCounter++
	a.unenroll = false
	if err := a.saveDMClientLocked(); err != nil {
		a.dm.SessionCounter--
		a.mu.Unlock()
		return Report{}, fmt.Errorf("starting session: %w", err)
	}
	s := &session{a: a, ctx: ctx, client: a.httpClient(roots, &cert), cv: cv, enr: a.enr, id: a.id,
		sid: strconv.Itoa(a.dm.SessionCounter), limit: a.opts.MaxMsgSize}
	a.mu.Unlock()
	s.report.SessionID = s.sid

	before := snapshot(a.tree.Nodes())
	runErr := s.run(unenroll)
	s.report.Changed = diff(before, snapshot(a.tree.Nodes()))

	a.mu.Lock()
	defer a.mu.Unlock()
	if runErr == nil && (a.unenroll || unenroll) && a.enr.State == StateEnrolled {
		if err := a.markUnenrolledLocked(); err != nil {
			return s.report, err
		}
		s.report.Unenrolled = true
	}
	return s.report, runErr
}

func (s *session) header() syncml.Header {
	return syncml.Header{SessionID: s.sid, MsgID: strconv.Itoa(s.msgID), Target: s.enr.ManagementURL,
		Source: s.id.DeviceID, Meta: &syncml.Meta{MaxMsgSize: s.limit}}
}

// first builds package 1 as Windows does (docs/protocol.md B.3): CmdIDs from 2, Alert 1201,
// Alert 1224 LoginStatus, [Alert 1226 unenrollment], Replace of DevInfo (no Meta), then a
// Replace of DMClient/HWDevID and hellomdm's DeviceState (join.go) and HelloStatus nodes,
// which the server records.
func (s *session) first(unenroll bool) ([]byte, error) {
	s.msgID = 1
	b := syncml.NewBuilder(s.header(), 2)
	b.Alert(syncml.AlertClientInitiated)
	b.Alert(syncml.AlertClientEvent, syncml.Item{Meta: &syncml.Meta{Type: syncml.TypeLoginStatus}, Data: s.a.opts.LoginStatus})
	if unenroll {
		b.Alert(syncml.AlertGeneric, syncml.Item{Meta: &syncml.Meta{Type: syncml.TypeUnenrollUser, Format: "int"}, Data: "1"})
	}
	var items []syncml.Item
	for _, n := range []string{"DevId", "Man", "Mod", "DmV", "Lang"} {
		v, _ := devInfoValue(s.id, "./DevInfo/"+n, s.a.opts.Now)
		items = append(items, syncml.Item{Source: "./DevInfo/" + n, Data: v})
	}
	b.Command(syncml.Command{Verb: syncml.VerbReplace, Items: items})
	extra := []syncml.Item{{Source: "./Vendor/MSFT/DMClient/HWDevID", Data: s.id.HWDevID}}
	j := s.a.Join()
	extra = append(extra,
		syncml.Item{Source: reportedStateDir + "JoinType", Data: reportedJoinType(j.Join)},
		syncml.Item{Source: reportedStateDir + "TrustType", Data: reportedTrustType(j.Trust)},
		syncml.Item{Source: reportedStateDir + "AccountType", Data: reportedAccountType(j.Account)})
	st, err := s.a.helloState()
	if err != nil {
		return nil, err
	}
	extra = append(extra, syncml.Item{Source: "./Vendor/MSFT/hellomdm/HelloStatus/NgcSet", Data: yesNo(st.NgcSet)})
	if st.CanReset != "" {
		extra = append(extra, syncml.Item{Source: "./Vendor/MSFT/hellomdm/HelloStatus/CanReset", Data: st.CanReset})
		// Why not DestructiveAndNonDestructive ("" when it is), and what the device believes
		// about its tenant's PIN reset service, which the server corrects (canreset.go).
		extra = append(extra, syncml.Item{Source: "./Vendor/MSFT/hellomdm/HelloStatus/CanResetReason", Data: st.CanResetReason})
		avail := s.a.ServiceAvailability()
		if avail == "" {
			avail = serviceUnknown
		}
		extra = append(extra, syncml.Item{Source: "./Vendor/MSFT/hellomdm/PinResetService/Availability", Data: avail})
	}
	if st.NgcKeyID != "" {
		extra = append(extra, syncml.Item{Source: "./Vendor/MSFT/hellomdm/HelloStatus/NgcKeyId", Data: hello.FormatKeyID(st.NgcKeyID)})
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
	req, err := http.NewRequest(http.MethodPost, s.enr.ManagementURL+"?mode=Maintenance&Platform=WoA", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", s.sid, err)
	}
	h := req.Header
	h.Set("Content-Type", syncml.ContentType)
	h.Set("Accept", acceptOMADM)
	h.Set("Accept-Charset", "UTF-8")
	h.Set("User-Agent", userAgentOMADM)
	h.Set("Client-Request-Id", "0")
	h.Set("MS-CV", s.cv.next())
	s.report.Messages++
	resp, err := do(s.ctx, s.client, req)
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
	if m.Header.Target != s.id.DeviceID {
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
				s.a.log.Info("server aborted the session", "session", s.sid)
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
		for _, o := range s.a.tree.Execute(c) {
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
