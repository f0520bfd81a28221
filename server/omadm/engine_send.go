package omadm

import (
	"fmt"
	"strconv"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/internal/payload"
	"github.com/hellomdm/hellomdm/server/internal/delivery"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/syncml"
)

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
		return delivery.Lapsed(c, s.now) && !delivery.AtMostOnce(c.Payload)
	}
	return false
}

// sendCommands adds the due commands, in queue order, that fit the client's MaxMsgSize
// (MS-MDM 2.2.3; OMA-TS-DM_Protocol-V1_2_1 §6.1.2). A command that cannot fit even in an
// otherwise empty message fails alone with 413; it never blocks the queue.
func (s *step) sendCommands(serverMsgID string, sent map[string]store.SentRef) (int, error) {
	// OpenDue alone, not HasPending first: with no open command it costs the same one scan,
	// and with some it saves that scan (a round trip on PostgreSQL).
	// Commands the store holds as waiting past now (a live claim, a retry's backoff) cannot
	// be due, so they are not read; this message's own copies may have changed (a Status),
	// so those are read whatever the stored state says.
	var mine []uint64
	for _, c := range s.cmds {
		mine = append(mine, c.Seq)
	}
	open, err := s.tx.OpenDue(s.now, mine)
	if err != nil {
		return 0, fmt.Errorf("loading open commands: %w", err)
	}
	if len(open) == 0 {
		return 0, nil
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
		if delivery.Lapsed(&c, s.now) && delivery.AtMostOnce(c.Payload) {
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
		s.track(&cc)
		s.markDirty(c.ID)
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
	s.track(&cc)
	s.markDirty(cc.ID)
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
	s.track(&cc)
	s.markDirty(cc.ID)
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
