package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/store"
)

// checkinOpenDue: OpenDue leaves out exactly the open commands whose stored state waits past
// now (a sent command's live claim, a retry's backoff), returns those at the Seqs it is
// given whatever they wait for, never a final command, and follows each PutCommand.
func checkinOpenDue(t *testing.T, s store.Store) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 500, time.UTC)
	ids := []string{"queued", "claimed", "lapsed", "backoff", "retryNow", "sentNoClaim", "done", "claimedNs"}
	var cmds []store.Command
	for _, id := range ids {
		cmds = append(cmds, command("d1", id))
	}
	must(t, "Enqueue", s.Enqueue(t.Context(), cmds...))
	set := map[string]func(c *store.Command){
		"claimed":     func(c *store.Command) { c.State, c.ClaimUntil = store.CommandSent, now.Add(time.Hour) },
		"lapsed":      func(c *store.Command) { c.State, c.ClaimUntil = store.CommandSent, now.Add(-time.Second) },
		"backoff":     func(c *store.Command) { c.State, c.NextAttemptAt = store.CommandRetry, now.Add(time.Minute) },
		"retryNow":    func(c *store.Command) { c.State, c.NextAttemptAt = store.CommandRetry, now },
		"sentNoClaim": func(c *store.Command) { c.State = store.CommandSent },
		"done":        func(c *store.Command) { c.State, c.StatusCode = store.CommandSucceeded, 200 },
		// One nanosecond past now still waits; a claim in another zone is the same instant.
		"claimedNs": func(c *store.Command) {
			c.State, c.ClaimUntil = store.CommandSent, now.Add(time.Nanosecond).In(time.FixedZone("X", 3600))
		},
	}
	seqs := map[string]uint64{}
	must(t, "Checkin", s.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error {
		for _, id := range ids {
			c, err := tx.Command(id)
			if err != nil {
				return err
			}
			seqs[id] = c.Seq
			if f := set[id]; f != nil {
				f(&c)
				if err := tx.PutCommand(c); err != nil {
					return err
				}
			}
		}
		return nil
	}))
	due := func(at time.Time, also ...uint64) []string {
		var got []string
		must(t, "Checkin", s.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error {
			open, err := tx.OpenDue(at, also)
			got = commandIDs(open)
			return err
		}))
		return got
	}
	for _, tc := range []struct {
		at   time.Time
		also []uint64
		want []string
	}{
		{now, nil, []string{"queued", "lapsed", "retryNow", "sentNoClaim"}},
		{now, []uint64{seqs["claimed"], seqs["done"]}, []string{"queued", "claimed", "lapsed", "retryNow", "sentNoClaim"}},
		{now.Add(time.Nanosecond), nil, []string{"queued", "lapsed", "retryNow", "sentNoClaim", "claimedNs"}},
		{now.Add(time.Minute), nil, []string{"queued", "lapsed", "backoff", "retryNow", "sentNoClaim", "claimedNs"}},
		{now.Add(time.Hour), nil, []string{"queued", "claimed", "lapsed", "backoff", "retryNow", "sentNoClaim", "claimedNs"}},
	} {
		if got := due(tc.at, tc.also...); !slices.Equal(got, tc.want) {
			t.Errorf("OpenDue(now%+v, %v) = %v, want %v", tc.at.Sub(now), tc.also, got, tc.want)
		}
	}
	// A command written back as queued (a Status that sends it again) is due at once.
	must(t, "Checkin", s.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error {
		c, err := tx.Command("claimed")
		if err != nil {
			return err
		}
		c.State, c.ClaimUntil = store.CommandQueued, time.Time{}
		if err := tx.PutCommand(c); err != nil {
			return err
		}
		open, err := tx.OpenDue(now, nil)
		if err != nil {
			return err
		}
		if got := commandIDs(open); !slices.Contains(got, "claimed") {
			return fmt.Errorf("OpenDue after requeueing in the transaction = %v, want claimed in it", got)
		}
		return nil
	}))
	if got := due(now); !slices.Equal(got, []string{"queued", "claimed", "lapsed", "retryNow", "sentNoClaim"}) {
		t.Errorf("OpenDue after requeueing = %v", got)
	}
}
