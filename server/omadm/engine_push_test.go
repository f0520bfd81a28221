package omadm

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/store"
)

func TestPushDue(t *testing.T) {
	now := time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC)
	const pfn = "Contoso.MDM_8wekyb3d8bbwe"
	day := 24 * time.Hour
	for _, tc := range []struct {
		name            string
		w               *store.WNSChannel
		provision, read bool
	}{
		{"never provisioned", nil, true, true},
		{"another PFN", &store.WNSChannel{PFN: "Old.App_8wekyb3d8bbwe", ReadAt: now}, true, true},
		{"fresh channel", &store.WNSChannel{PFN: pfn, ChannelURI: "https://a.notify.windows.com/?t", ExpiresAt: now.Add(29 * day), ReadAt: now.Add(-2 * day)}, false, false},
		{"channel under 15 days, read yesterday", &store.WNSChannel{PFN: pfn, ChannelURI: "https://a.notify.windows.com/?t", ExpiresAt: now.Add(14 * day), ReadAt: now.Add(-day)}, false, true},
		{"channel under 15 days, read an hour ago", &store.WNSChannel{PFN: pfn, ChannelURI: "https://a.notify.windows.com/?t", ExpiresAt: now.Add(14 * day), ReadAt: now.Add(-time.Hour)}, false, false},
		{"no channel, read an hour ago", &store.WNSChannel{PFN: pfn, ReadAt: now.Add(-time.Hour)}, false, false},
		{"no channel, read a day ago", &store.WNSChannel{PFN: pfn, ReadAt: now.Add(-day)}, false, true},
		{"gone at WNS (404/410)", &store.WNSChannel{PFN: pfn, NeedsRead: true, ReadAt: now.Add(-time.Minute)}, false, true},
	} {
		p, r := pushDue(tc.w, pfn, now)
		if p != tc.provision || r != tc.read {
			t.Errorf("%s: pushDue = %v, %v; want %v, %v", tc.name, p, r, tc.provision, tc.read)
		}
	}
}

func TestReportChannel(t *testing.T) {
	now := time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC)
	allowed := func(uri string) error {
		if strings.HasPrefix(uri, "https://a.notify.windows.com/") {
			return nil
		}
		return errors.New("not on the allowlist")
	}
	w := store.WNSChannel{PFN: "P"}
	w, action, _ := reportChannel(w, "https://a.notify.windows.com/?token=1", allowed, now)
	if action != "channelReported" || w.ChannelURI == "" || !w.ExpiresAt.Equal(now.Add(ChannelLifetime)) {
		t.Fatalf("first report: %s %+v", action, w)
	}
	later := now.Add(time.Hour)
	if w2, action, _ := reportChannel(w, "https://a.notify.windows.com/?token=1", allowed, later); action != "" || !w2.ExpiresAt.Equal(w.ExpiresAt) {
		t.Errorf("the same channel again: %s %+v (the expiry counts from its first report)", action, w2)
	}
	w, action, _ = reportChannel(w, "http://10.0.0.1/x", allowed, later)
	if action != "channelRefused" || w.ChannelURI != "" || w.Refused == "" || !w.ExpiresAt.IsZero() {
		t.Fatalf("refused report: %s %+v", action, w)
	}
	if _, action, _ := reportChannel(w, "http://10.0.0.1/x", allowed, later); action != "" {
		t.Errorf("the same refusal again: %s", action)
	}
	if w, action, _ = reportChannel(w, "", allowed, later); action != "channelAbsent" || w.Refused != "" {
		t.Errorf("no channel: %s %+v", action, w)
	}
}

// FuzzReportChannel feeds reportChannel what a device may answer for Push/ChannelURI: a
// channel is kept only when the allowlist accepted exactly that value, a refusal reason is
// bounded, and the expiry is set exactly when a channel is kept.
func FuzzReportChannel(f *testing.F) {
	for _, s := range []string{"", " ", "https://a.notify.windows.com/?token=1", "http://127.0.0.1/", strings.Repeat("x", 5000), "https://a.notify.windows.com/\x00"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, uri string) {
		var checked string
		allowed := func(u string) error {
			checked = u
			if strings.HasPrefix(u, "https://a.notify.windows.com/") && !strings.ContainsAny(u, " \x00") {
				return nil
			}
			return errors.New(strings.Repeat("refused ", 100))
		}
		w, _, _ := reportChannel(store.WNSChannel{PFN: "P"}, uri, allowed, now)
		if w.ChannelURI != "" && (w.ChannelURI != checked || allowed(w.ChannelURI) != nil) {
			t.Fatalf("kept %q, checked %q", w.ChannelURI, checked)
		}
		if (w.ChannelURI != "") != !w.ExpiresAt.IsZero() {
			t.Fatalf("channel %q with expiry %v", w.ChannelURI, w.ExpiresAt)
		}
		if len(w.Refused) > maxRefusedReason {
			t.Fatalf("refusal of %d bytes", len(w.Refused))
		}
	})
}
