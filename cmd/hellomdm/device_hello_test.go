package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/device/hello"
	"github.com/hellomdm/hellomdm/device/identity"
)

func TestResetRequestFlags(t *testing.T) {
	base := helloFlags{user: "alice@contoso.com", from: "settings", newPIN: "1357"}
	tests := []struct {
		name    string
		edit    func(*helloFlags)
		wantErr bool
		check   func(t *testing.T, f helloFlags)
	}{
		{name: "defaults", edit: func(*helloFlags) {}},
		{name: "lockscreen destructive with DC and AD FS", edit: func(f *helloFlags) {
			f.from, f.destructive, f.dcReachable, f.adfs = "lockscreen", true, true, true
		}},
		{name: "bad entry point", edit: func(f *helloFlags) { f.from = "desktop" }, wantErr: true},
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
			wantKind := hello.NonDestructive
			if f.destructive {
				wantKind = hello.Destructive
			}
			if req.EntryPoint != wantEntry || req.Kind != wantKind ||
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

func TestEnrollJoinFlags(t *testing.T) {
	cur := identity.DefaultJoinState
	tests := []struct {
		f       enrollFlags
		want    identity.JoinState
		wantErr bool
	}{
		{f: enrollFlags{}, want: cur},
		{f: enrollFlags{join: "registered", trust: "cert", account: "msa"}, want: identity.JoinState{Join: hello.EntraRegistered, Trust: hello.CertTrust, Account: hello.MicrosoftAccount}},
		{f: enrollFlags{join: "hybrid"}, want: identity.JoinState{Join: hello.HybridJoined, Trust: hello.KeyTrust, Account: hello.Enterprise}},
		{f: enrollFlags{join: "domain", trust: "cloud"}, want: identity.JoinState{Join: hello.OnPremises, Trust: hello.CloudTrust, Account: hello.Enterprise}},
		{f: enrollFlags{join: "workplace"}, wantErr: true},
		{f: enrollFlags{trust: "password"}, wantErr: true},
		{f: enrollFlags{account: "guest"}, wantErr: true},
	}
	for _, tc := range tests {
		got, err := tc.f.joinState(cur)
		if tc.wantErr {
			var ue usageError
			if !errors.As(err, &ue) {
				t.Errorf("%+v: err = %v, want a usage error", tc.f, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%+v: got %+v, %v; want %+v", tc.f, got, err, tc.want)
		}
	}
}
