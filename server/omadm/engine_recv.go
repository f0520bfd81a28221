package omadm

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/internal/payload"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/syncml"
)

// clientCommand records one command of the client's message and answers it with a Status
// (Status and Results are never answered: OMA-TS-SyncML-RepPro §6.6).
func (s *step) clientCommand(c *syncml.Command) error {
	msgRef := s.req.Message.Header.MsgID
	switch c.Verb {
	case syncml.VerbStatus:
		return s.recordStatus(c)
	case syncml.VerbResults:
		return s.recordResults(c)
	case syncml.VerbAlert:
		s.b.Status(msgRef, *c, s.alert(c))
	case syncml.VerbReplace, syncml.VerbAdd:
		// Package 1 carries DevInfo (and sometimes DMClient/HWDevID) as Replace items whose
		// Source names the node (MS-MDM 2.2.7.6, docs/protocol.md B.3).
		status := syncml.StatusOK
		for _, it := range c.Items {
			uri := it.Source
			if uri == "" {
				uri = it.Target
			}
			if uri == "" {
				continue
			}
			if len(it.Data) > store.MaxDeviceTextLen && indexedNode(uri) {
				// The device index keys these values: one that long is not kept, and the
				// command is answered 413 (the others of its items are).
				status = syncml.StatusRequestTooLarge
				continue
			}
			if s.dev.Nodes == nil {
				s.dev.Nodes = map[string]string{}
			}
			if s.dev.Nodes[uri] != it.Data {
				s.dev.Nodes[uri] = it.Data
				s.devDirty = true
			}
			if uri == "./DevDetail/SwV" && it.Data != "" && it.Data != s.dev.OSVersion {
				s.dev.OSVersion = it.Data
				s.devDirty = true
			}
		}
		s.b.Status(msgRef, *c, status)
	default:
		// A client has no business sending Get/Delete/Exec/Atomic/Sequence to the server.
		s.b.Status(msgRef, *c, syncml.StatusCommandNotAllowed)
	}
	return nil
}

// alert handles Alert 1200/1201 (session start), 1222, 1223, 1224 and 1226 (MS-MDM 2.2.7.2).
func (s *step) alert(c *syncml.Command) int {
	code, err := c.AlertCode()
	if err != nil {
		return syncml.StatusBadRequest
	}
	switch code {
	case syncml.AlertServerInitiated, syncml.AlertClientInitiated:
		return syncml.StatusOK
	case syncml.AlertNextMessage:
		return syncml.StatusOK
	case syncml.AlertSessionAbort:
		s.abort = true
		return syncml.StatusOK
	case syncml.AlertClientEvent, syncml.AlertGeneric:
		for _, it := range c.Items {
			typ := ""
			if it.Meta != nil {
				typ = it.Meta.Type
			}
			switch {
			case code == syncml.AlertGeneric && strings.EqualFold(typ, syncml.TypeUnenrollUser):
				s.unenrollDevice()
			case typ == syncml.TypeLoginStatus:
				if s.dev.Nodes == nil {
					s.dev.Nodes = map[string]string{}
				}
				if s.dev.Nodes[typ] != it.Data {
					s.dev.Nodes[typ] = it.Data
					s.devDirty = true
				}
			default:
				s.event(audit.KindDeviceAlert, audit.Subject{Type: audit.SubjectDevice, ID: s.dev.ID}, "alert",
					map[string]any{"alert": code, "type": typ, "format": metaFormat(it.Meta), "source": it.Source, "data": it.Data})
			}
		}
		return syncml.StatusOK
	}
	return syncml.StatusOptionalNotSupported
}

// unenrollDevice handles the user-initiated unenrollment alert: the device is marked
// unenrolled (its certificate is refused from now on) and history is kept.
func (s *step) unenrollDevice() {
	if s.unenroll {
		return
	}
	s.unenroll = true
	s.dev.State = store.DeviceUnenrolled
	s.devDirty = true
	s.event(audit.KindUnenrolled, audit.Subject{Type: audit.SubjectDevice, ID: s.dev.ID}, "unenroll",
		map[string]any{"reason": syncml.TypeUnenrollUser, "certSerial": s.dev.CertSerial})
}

func metaFormat(m *syncml.Meta) string {
	if m == nil {
		return ""
	}
	return m.Format
}

// command loads a queued command once per step.
func (s *step) command(id string) (*store.Command, error) {
	if c, ok := s.cmds[id]; ok {
		return c, nil
	}
	c, err := s.tx.Command(id)
	if err != nil {
		return nil, err
	}
	s.track(&c)
	return &c, nil
}

// track makes c the step's copy of its command. The step's maps are made on first use: most
// messages (an idle check-in) touch no command.
func (s *step) track(c *store.Command) {
	if s.cmds == nil {
		s.cmds = map[string]*store.Command{}
	}
	s.cmds[c.ID] = c
}

// markDirty has persist write the step's copy of command id back.
func (s *step) markDirty(id string) {
	if s.dirty == nil {
		s.dirty = map[string]bool{}
	}
	s.dirty[id] = true
}

// firstAnswer reports whether key (a Status's or Results' "s:" or "r:" + MsgRef:CmdRef) is
// met for the first time in this message, recording it.
func (s *step) firstAnswer(key string) bool {
	if s.answered[key] {
		return false
	}
	if s.answered == nil {
		s.answered = map[string]bool{}
	}
	s.answered[key] = true
	return true
}

// sentRef finds which queued command a Status or Results answers.
func (s *step) sentRef(c *syncml.Command) (store.SentRef, bool) {
	ref, ok := s.sess.Sent[strings.TrimSpace(c.MsgRef)+":"+strings.TrimSpace(c.CmdRef)]
	return ref, ok
}

func (s *step) recordStatus(c *syncml.Command) error {
	if strings.TrimSpace(c.CmdRef) == "0" {
		// Status for our SyncHdr; Windows may report 500 here after a server error. Nothing
		// is queued against it.
		return nil
	}
	code, err := c.StatusCode()
	if err != nil {
		s.e.log.Warn("status with a non-numeric code ignored", "device", s.dev.ID, "cmdRef", c.CmdRef, "data", c.Data)
		return nil
	}
	ref, ok := s.sentRef(c)
	if !ok {
		s.e.log.Warn("status for an unknown CmdRef ignored", "device", s.dev.ID, "session", s.sess.SessionID, "msgRef", c.MsgRef, "cmdRef", c.CmdRef, "code", code)
		return nil
	}
	if !s.firstAnswer("s:" + c.MsgRef + ":" + c.CmdRef) {
		return nil // a second Status for the same command in one message is not applied twice
	}
	cmd, err := s.command(ref.CommandID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("loading command %s: %w", ref.CommandID, err)
	}
	if len(ref.Child) > 0 {
		return s.recordChildStatus(cmd, ref, code)
	}
	lateUnknown := cmd.State == store.CommandUnknown && cmd.LastSession == s.sess.Key && cmd.ResentAs == ""
	if !lateUnknown && (cmd.State != store.CommandSent || cmd.ClaimSession != s.sess.Key) {
		// Already recorded (or reclaimed by another session after this one's lease ran out):
		// never record a command twice. An at-most-once command whose claim ran out in this
		// session (store.CommandUnknown) still takes this session's late Status: the device
		// tells what happened, unless an admin has already resent it.
		return nil
	}
	s.markDirty(cmd.ID)
	return s.settle(cmd, code)
}

// recordChildStatus records the Status of a command nested in an Atomic or Sequence. The
// order of Statuses is not fixed: Windows (and hellomdm's agent) answers an Atomic with its
// own Status first and its children's after it, other clients the other way round, and a
// client may put them in different messages of the session when MaxMsgSize splits its reply
// (OMA-TS-DM_Protocol-V1_2_1 §6 multiple messages; OMA-TS-SyncML-RepPro-V1_2_2: a Status
// per command, nested ones included; MS-MDM "OMA DM protocol support", Atomic: the Atomic
// answers 507, the failing command keeps its own code, the others answer 216). So a child's
// Status counts whatever state its parent is in, as long as it answers the parent's send in
// this session (a Status from a session whose claim lapsed and whose command went out again
// elsewhere is stale), and only the first Status for each child counts.
func (s *step) recordChildStatus(cmd *store.Command, ref store.SentRef, code int) error {
	if cmd.LastSession != s.sess.Key {
		return nil
	}
	i := ref.Child[0]
	for len(cmd.ChildStatus) <= i {
		cmd.ChildStatus = append(cmd.ChildStatus, 0)
	}
	if cmd.ChildStatus[i] != 0 {
		return nil
	}
	cmd.ChildStatus[i] = code
	s.markDirty(cmd.ID)
	kind := audit.KindCommandDelivered
	if childFailed(code) {
		kind = audit.KindCommandFailed
	}
	details := map[string]any{"child": i, "verb": ref.Verb, "status": code, "meaning": syncml.StatusText(code), "attempt": cmd.SentCount}
	if c, ok := nthChild(cmd.Payload.Commands, i); ok {
		details["target"] = targetOf(c)
	}
	s.event(kind, audit.Subject{Type: audit.SubjectCommand, ID: cmd.ID}, "childStatus", details)
	return nil
}

// childFailed reports whether a nested command's Status is its own failure: success, 216
// (rolled back because another command failed) and 215 (not executed) are not.
func childFailed(code int) bool {
	switch code {
	case syncml.StatusOK, syncml.StatusAccepted, syncml.StatusAtomicRollbackOK, syncml.StatusNotExecuted:
		return false
	}
	return true
}

// nthChild returns the nested command at a depth-first index, the numbering of
// store.SentRef.Child and store.Command.ChildStatus.
func nthChild(cmds []store.Payload, n int) (store.Payload, bool) {
	for _, c := range cmds {
		if n == 0 {
			return c, true
		}
		n--
		k := len(flatVerbs(c.Commands))
		if n < k {
			return nthChild(c.Commands, n)
		}
		n -= k
	}
	return store.Payload{}, false
}

// settle records the device's Status for a whole command (MS-MDM status handling; retries
// per Config).
func (s *step) settle(cmd *store.Command, code int) error {
	cmd.StatusCode = code
	cmd.ClaimSession = ""
	cmd.ClaimUntil = time.Time{}
	subject := audit.Subject{Type: audit.SubjectCommand, ID: cmd.ID}
	details := map[string]any{"status": code, "meaning": syncml.StatusText(code), "verb": cmd.Payload.Verb, "target": targetOf(cmd.Payload), "attempt": cmd.SentCount}
	switch {
	case code == syncml.StatusOK:
		cmd.State = store.CommandSucceeded
	case code == syncml.StatusAccepted:
		// 202: accepted for asynchronous processing; success is confirmed later by a Get.
		cmd.State = store.CommandAccepted
	case code == syncml.StatusAlreadyExists && cmd.Payload.Verb == syncml.VerbAdd:
		// Add on an existing node: send it again as Replace (docs/protocol.md B.6), no attempt spent.
		cmd.Payload.Verb = syncml.VerbReplace
		cmd.State = store.CommandQueued
		details["next"] = "resend as Replace"
	default:
		cmd.Attempts++
		if cmd.Attempts >= cmd.MaxAttempts || cmd.MaxAttempts == 0 && cmd.Attempts >= s.e.cfg.MaxAttempts {
			cmd.State = store.CommandFailed
		} else {
			cmd.State = store.CommandRetry
			cmd.NextAttemptAt = s.now.Add(s.backoff(cmd.Attempts))
			details["retryAt"] = cmd.NextAttemptAt
		}
	}
	kind := audit.KindCommandDelivered
	if cmd.State == store.CommandFailed {
		kind = audit.KindCommandFailed
	}
	details["state"] = cmd.State
	s.event(kind, subject, "status", details)
	return s.outcome(cmd)
}

func (s *step) backoff(attempts int) time.Duration {
	if s.e.cfg.NoBackoff {
		return 0
	}
	d := s.e.cfg.RetryBackoff
	for i := 1; i < attempts && d < 24*time.Hour; i++ {
		d *= 2
	}
	return d
}

func (s *step) recordResults(c *syncml.Command) error {
	ref, ok := s.sentRef(c)
	if !ok || !isGet(ref.Verb) {
		s.e.log.Warn("results without a matching Get ignored", "device", s.dev.ID, "msgRef", c.MsgRef, "cmdRef", c.CmdRef)
		return nil
	}
	if !s.firstAnswer("r:" + c.MsgRef + ":" + c.CmdRef) {
		return nil
	}
	cmd, err := s.command(ref.CommandID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("loading command %s: %w", ref.CommandID, err)
	}
	if cmd.ClaimSession != s.sess.Key && cmd.State != store.CommandSucceeded {
		return nil
	}
	cmd.Results = payload.AppendStored(cmd.Results, c.Items)
	s.markDirty(cmd.ID)
	if cmd.State == store.CommandSucceeded {
		// Status came first in this message; let the policy engine see the values too.
		return s.outcome(cmd)
	}
	return nil
}

func isGet(verb string) bool { return verb == syncml.VerbGet }

func targetOf(c store.Payload) string {
	if len(c.Items) > 0 {
		return c.Items[0].Target
	}
	return ""
}

// indexedNode reports whether a reported node's value goes into the device index's keys
// (store.CheckDeviceText): the OS version and CanReset.
func indexedNode(uri string) bool {
	return uri == "./DevDetail/SwV" || uri == store.CanResetNode || uri == store.CanResetNodeUnscoped
}
