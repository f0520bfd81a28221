// Package delivery holds the rules on a queued command's delivery that the session engine
// (server/omadm) applies and the admin API (server/adminapi) shows: which commands are sent at
// most once, and when such a command's state is unknown.
package delivery

import (
	"time"

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
// Exec), so the verb alone decides: AtMostOnce.
func AtMostOnce(c store.Payload) bool {
	if c.Verb == syncml.VerbExec {
		return true
	}
	for _, child := range c.Commands {
		if AtMostOnce(child) {
			return true
		}
	}
	return false
}

// Lapsed reports whether a sent command's claim has run out with no Status, now.
func Lapsed(c *store.Command, now time.Time) bool {
	return c.State == store.CommandSent && !now.Before(c.ClaimUntil)
}

// UnknownNow reports whether c is, at now, an at-most-once command whose claim has run out
// without a Status: stored as unknown, or still sent with a lapsed claim (the device's next
// session stores it as unknown; nothing sends it again in the meantime).
func UnknownNow(c *store.Command, now time.Time) bool {
	return c.State == store.CommandUnknown || Lapsed(c, now) && AtMostOnce(c.Payload)
}
