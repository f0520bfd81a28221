package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/device/hello"
)

func TestResetRequestFlags(t *testing.T) {
	base := helloFlags{user: "alice@contoso.com", from: "settings", join: "aad", trust: "key", account: "enterprise", newPIN: "1357"}
	tests := []struct {
		name    string
		edit    func(*helloFlags)
		wantErr bool
		check   func(t *testing.T, f helloFlags)
	}{
		{name: "defaults", edit: func(*helloFlags) {}},
		{name: "lockscreen destructive hybrid cert msa", edit: func(f *helloFlags) {
			f.from, f.destructive, f.join, f.trust, f.account, f.dcReachable, f.adfs = "lockscreen", true, "hybrid", "cert", "msa", true, true
		}},
		{name: "onprem cloud", edit: func(f *helloFlags) { f.join, f.trust = "onprem", "cloud" }},
		{name: "bad entry point", edit: func(f *helloFlags) { f.from = "desktop" }, wantErr: true},
		{name: "bad join", edit: func(f *helloFlags) { f.join = "workplace" }, wantErr: true},
		{name: "bad trust", edit: func(f *helloFlags) { f.trust = "password" }, wantErr: true},
		{name: "bad account", edit: func(f *helloFlags) { f.account = "guest" }, wantErr: true},
		{name: "no new PIN", edit: func(f *helloFlags) { f.newPIN = "" }, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := base
			tc.edit(&f)
			req, err := resetRequest(f)
			if tc.wantErr {
				var ue usageError
				if !errors.As(err, &ue) {
					t.Fatalf("err = %v, want a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantEntry := map[string]hello.EntryPoint{"settings": hello.Settings, "lockscreen": hello.AboveLock}[f.from]
			wantJoin := map[string]hello.JoinType{"aad": hello.AzureADJoined, "hybrid": hello.HybridJoined, "onprem": hello.OnPremises}[f.join]
			wantTrust := map[string]hello.TrustType{"key": hello.KeyTrust, "cert": hello.CertTrust, "cloud": hello.CloudTrust}[f.trust]
			wantKind := hello.NonDestructive
			if f.destructive {
				wantKind = hello.Destructive
			}
			if req.EntryPoint != wantEntry || req.Join != wantJoin || req.Trust != wantTrust || req.Kind != wantKind ||
				req.DCReachable != f.dcReachable || req.ADFSOnPrem != f.adfs || req.UPN != f.user || req.NewPIN != f.newPIN {
				t.Errorf("request = %+v from flags %+v", req, f)
			}
		})
	}
}

func TestHelloErrorHint(t *testing.T) {
	f := helloFlags{state: "/var/lib/hellomdm-device", user: "alice@contoso.com"}
	tests := []struct {
		name     string
		err      error
		wantHint bool
	}{
		{"locked", fmt.Errorf("unlocking Hello container: %w", hello.ErrPINLocked), true},
		{"wrong PIN that locks", fmt.Errorf("unlocking Hello container: %w; %w", hello.ErrWrongPIN, hello.ErrPINLocked), true},
		{"wrong PIN", fmt.Errorf("unlocking Hello container: %w (4 attempts left)", hello.ErrWrongPIN), false},
		{"other error", hello.ErrNoContainer, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hint := helloErrorHint(tc.err, f)
			if !tc.wantHint {
				if hint != "" {
					t.Fatalf("hint = %q, want none", hint)
				}
				return
			}
			for _, want := range []string{"hellomdm device reset-pin", "--state /var/lib/hellomdm-device", "--user alice@contoso.com", "--new-pin", "--destructive"} {
				if !strings.Contains(hint, want) {
					t.Errorf("hint lacks %q:\n%s", want, hint)
				}
			}
		})
	}
}
