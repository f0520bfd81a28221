package omadm

import (
	"fmt"
	"strconv"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/internal/payload"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/syncml"
)

// Delivery rule per verb, when a session breaks off (server killed, connection lost, the
// client gone) after a command went out and before its Status came back. OMA DM gives the
// server no way to ask whether a command already ran (OMA-TS-DM_Protocol-V1_2_1 §8.3: a
// command's result is its Status; MS-MDM 2.2.1: a session ends with whatever Statuses were
// sent), so the verb decides whether sending it again is safe:
//
//   - Get, Add, Replace, Delete: at-least-once. Sending them again is harmless (Get reads,
//     Replace and Delete converge to the same node state, and an Add on a node the first
//     send created answers 418, which the engine turns into a Replace), so a claim that
//     expires without a Status puts the command back in the queue for the next session.
//   - Exec: at-most-once. An Exec starts an action on the device (MS-MDM Exec; e.g. DMClient
//     Unenroll, CertificateStore RenewNow) that may have run before the reply was lost;
//     running it twice is not harmless. A claim that expires without a Status moves it to
//     store.CommandUnknown: it is never sent again by itself, the admin sees the state in the
//     API and the CLI, and POST .../commands/{id}/resend queues a copy when they decide to.
//     A late Status from the session that carried it is still recorded.
//   - Atomic and Sequence: at-most-once when any command inside them (at any depth) is an
//     Exec, since sending the group again would run the Exec again; otherwise at-least-once.
//
// The CSP catalog has no node whose Add or Replace starts an action (its action nodes take
// Exec), so the verb alone decides.
func atMostOnce(c store.Payload) bool {
	if c.Verb == syncml.VerbExec {
		return true
	}
	for _, child := range c.Commands {
		if atMostOnce(child) {
			return true
		}
	}
	return false
}

// lapsed reports whether a sent command's claim has run out with no Status, now.
func lapsed(c *store.Command, now time.Time) bool {
	return c.State == store.CommandSent && !now.Before(c.ClaimUntil)
}

// UnknownNow reports whether c is, at now, an at-most-once command whose claim has run out
// without a Status: stored as unknown, or still sent with a lapsed claim (the device's next
// session stores it as unknown; nothing sends it again in the meantime).
func UnknownNow(c *store.Command, now time.Time) bool {
	return c.State == store.CommandUnknown || lapsed(c, now) && atMostOnce(c.Payload)
}

// due reports whether an open command should go out in this session now.
func (s *step) due(c *store.Command) bool {
	switch c.State {
	case store.CommandQueued:
		return true
	case store.CommandRetry:
		// Retried in a later session, after the backoff (MS-MDM leaves retry to the server).
		return c.LastSession != s.sess.Key && !s.now.Before(c.NextAttemptAt)
	case store.CommandSent:
		// Sent in a session that broke off (or in another session of this device whose
		// lease has run out): send it again, unless it is at-most-once (see atMostOnce). A
		// live claim belongs to its session alone.
		return lapsed(c, s.now) && !atMostOnce(c.Payload)
	}
	return false
}

// sendCommands adds the due commands, in queue order, that fit the client's MaxMsgSize
// (MS-MDM 2.2.3; OMA-TS-DM_Protocol-V1_2_1 §6.1.2). A command that cannot fit even in an
// otherwise empty message fails alone with 413; it never blocks the queue.
func (s *step) sendCommands(serverMsgID string, sent map[string]store.SentRef) (int, error) {
	has, err := s.tx.HasPending()
	if err != nil {
		return 0, fmt.Errorf("checking pending work: %w", err)
	}
	if !has {
		return 0, nil
	}
	open, err := s.tx.Open()
	if err != nil {
		return 0, fmt.Errorf("loading open commands: %w", err)
	}
	limit := s.e.cfg.DefaultMaxMsgSize
	if m := s.req.Message.Header.Meta; m != nil && m.MaxMsgSize > 0 {
		limit = m.MaxMsgSize
	}
	base := s.b.Size(true) // the reply without any command: statuses only
	n := 0
	for i := range open {
		c := open[i]
		if prev, ok := s.cmds[c.ID]; ok {
			c = *prev // recorded in this message already
		}
		if lapsed(&c, s.now) && atMostOnce(c.Payload) {
			s.unknown(&c)
			continue
		}
		if !c.State.Open() || !s.due(&c) {
			continue
		}
		p := payload.ToSyncML(c.Payload)
		size := s.b.CommandSize(p)
		if size < 0 {
			if err := s.unsendable(&c, syncml.StatusBadRequest, "the command cannot be encoded as SyncML"); err != nil {
				return n, err
			}
			continue
		}
		if s.b.Size(true)+size > limit {
			if base+size > limit {
				if err := s.unsendable(&c, syncml.StatusRequestTooLarge, fmt.Sprintf("command does not fit the device's MaxMsgSize of %d bytes", limit)); err != nil {
					return n, err
				}
				continue
			}
			break // the rest go in the next message of this session
		}
		top, err := s.b.TryCommand(p)
		if err != nil {
			if err := s.unsendable(&c, syncml.StatusBadRequest, err.Error()); err != nil {
				return n, err
			}
			continue
		}
		topID, err := strconv.Atoi(top)
		if err != nil {
			return n, fmt.Errorf("builder gave CmdID %q: %w", top, err)
		}
		sent[serverMsgID+":"+top] = store.SentRef{CommandID: c.ID, Verb: c.Payload.Verb}
		for j, verb := range flatVerbs(c.Payload.Commands) {
			sent[serverMsgID+":"+strconv.Itoa(topID+1+j)] = store.SentRef{CommandID: c.ID, Child: []int{j}, Verb: verb}
		}
		c.State = store.CommandSent
		c.ClaimSession = s.sess.Key
		c.LastSession = s.sess.Key
		c.ClaimUntil = s.now.Add(s.e.cfg.ClaimLease)
		c.SentCount++
		c.ChildStatus = nil
		if c.MaxAttempts == 0 {
			c.MaxAttempts = s.e.cfg.MaxAttempts
		}
		cc := c
		s.cmds[c.ID] = &cc
		s.dirty[c.ID] = true
		s.event(audit.KindCommandSent, audit.Subject{Type: audit.SubjectCommand, ID: c.ID}, "send",
			map[string]any{"verb": c.Payload.Verb, "target": targetOf(c.Payload), "session": s.sess.SessionID, "msgId": serverMsgID, "cmdId": top, "send": c.SentCount})
		n++
	}
	return n, nil
}

// unknown records that an at-most-once command's claim ran out without a Status: it leaves
// the queue as store.CommandUnknown and waits for an admin's resend.
func (s *step) unknown(c *store.Command) {
	cc := *c
	cc.State = store.CommandUnknown
	cc.ClaimSession = ""
	cc.ClaimUntil = time.Time{}
	s.cmds[cc.ID] = &cc
	s.dirty[cc.ID] = true
	s.event(audit.KindCommandUnknown, audit.Subject{Type: audit.SubjectCommand, ID: cc.ID}, "claimExpired",
		map[string]any{"verb": cc.Payload.Verb, "target": targetOf(cc.Payload), "lastSession": cc.LastSession, "send": cc.SentCount,
			"meaning": "sent, no Status before the claim ran out; not sent again unless resent"})
}

// unsendable fails a command the server cannot send (too big for the device's messages, or
// not encodable): it fails alone and never blocks the rest of the queue.
func (s *step) unsendable(c *store.Command, code int, why string) error {
	cc := *c
	cc.State = store.CommandFailed
	cc.StatusCode = code
	cc.ClaimSession = ""
	s.cmds[cc.ID] = &cc
	s.dirty[cc.ID] = true
	s.event(audit.KindCommandFailed, audit.Subject{Type: audit.SubjectCommand, ID: cc.ID}, "send",
		map[string]any{"status": code, "meaning": why, "verb": cc.Payload.Verb, "target": targetOf(cc.Payload)})
	return s.outcome(&cc)
}

// flatVerbs lists the verbs of nested commands depth-first, the order in which the builder
// numbers them after their parent.
func flatVerbs(cmds []store.Payload) []string {
	var out []string
	for _, c := range cmds {
		out = append(out, c.Verb)
		out = append(out, flatVerbs(c.Commands)...)
	}
	return out
}
