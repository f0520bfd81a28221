package hello

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func TestFormatUserStateGolden(t *testing.T) {
	tests := []struct {
		name   string
		report UserStateReport
	}{
		{"destructive_only", UserStateReport{
			UserState:           UserState{NgcSet: true, NgcKeyID: "fa0db076-a5d7-4844-82d8-50a2fb42ec7b", CanReset: CanResetDestructiveOnly},
			WamDefaultSet:       true,
			WamDefaultAuthority: "organizations",
			WamDefaultID:        "https://login.microsoft.com",
			WamDefaultGUID:      "{B16898C6-A148-4967-9171-64D755DA8520} (AzureAd)",
		}},
		{"non_destructive_with_sso", UserStateReport{
			UserState:           UserState{NgcSet: true, NgcKeyID: "5a8e0c1d-2b3f-4a5c-8d6e-7f8091a2b3c4", CanReset: CanResetDestructiveAndNonDestructive},
			WamDefaultSet:       true,
			WamDefaultAuthority: "organizations",
			SSO:                 &SSOState{AzureAdPrt: true, AzureAdPrtAuthority: "https://login.microsoftonline.com/8f1c6b5e-2d3a-4b7c-9e0f-112233445566"},
		}},
		{"no_container", UserStateReport{WorkplaceJoined: true}},
		{"pin_locked", UserStateReport{
			UserState: UserState{
				NgcSet: true, NgcKeyID: "fa0db076-a5d7-4844-82d8-50a2fb42ec7b", CanReset: CanResetDestructiveOnly,
				FailedPINAttempts: DefaultMaxPINAttempts, PINLocked: true,
			},
			WorkplaceJoined: true,
		}},
		{"pin_failed_attempts", UserStateReport{
			UserState: UserState{
				NgcSet: true, NgcKeyID: "5a8e0c1d-2b3f-4a5c-8d6e-7f8091a2b3c4", CanReset: CanResetDestructiveAndNonDestructive,
				FailedPINAttempts: 2,
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FormatUserState(tt.report)
			path := filepath.Join("testdata", "userstate_"+tt.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("reading golden file (run with -update to create): %v", err)
			}
			if got != string(want) {
				t.Fatalf("FormatUserState mismatch\n--- got ---\n%s\n--- want ---\n%s", got, want)
			}
		})
	}
}

func TestFormatKeyID(t *testing.T) {
	if got := FormatKeyID("fa0db076-a5d7-4844-82d8-50a2fb42ec7b"); got != "{FA0DB076-A5D7-4844-82D8-50A2FB42EC7B}" {
		t.Fatalf("FormatKeyID = %s", got)
	}
}

func TestStatusFeedsFormat(t *testing.T) {
	_, c := protected(t)
	dir := filepath.Dir(c.path)
	st, err := Status(dir, "alice")
	if err != nil {
		t.Fatal(err)
	}
	out := FormatUserState(UserStateReport{UserState: st})
	for _, want := range []string{
		"                  CanReset : DestructiveAndNonDestructive\n",
		"                  NgcKeyId : " + FormatKeyID(c.NgcKeyID()) + "\n",
		"                    NgcSet : YES\n",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
}
