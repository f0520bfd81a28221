package hello

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPINPolicyCheck(t *testing.T) {
	tests := []struct {
		name     string
		policy   PINPolicy
		pin      string
		wantRule string // "" = accepted
	}{
		{"default accepts 4 digits", PINPolicy{}, "1234", ""},
		{"default refuses 3 digits", PINPolicy{}, "123", "MinimumPINLength"},
		{"default accepts 127 digits", PINPolicy{}, strings.Repeat("1", 127), ""},
		{"default refuses 128 digits", PINPolicy{}, strings.Repeat("1", 128), "MaximumPINLength"},
		{"default requires digits", PINPolicy{LowercaseLetters: RuleAllow}, "abcd", "Digits"},
		{"default disallows uppercase", PINPolicy{}, "123A", "UppercaseLetters"},
		{"default disallows lowercase", PINPolicy{}, "123a", "LowercaseLetters"},
		{"default disallows special", PINPolicy{}, "123!", "SpecialCharacters"},
		{"space counts as special", PINPolicy{}, "12 34", "SpecialCharacters"},
		{"non-ASCII refused", PINPolicy{LowercaseLetters: RuleAllow}, "1234é", "Characters"},
		{"control character refused", PINPolicy{}, "12\n34", "Characters"},
		{"minimum 6 refuses 5", PINPolicy{MinimumPINLength: 6}, "12345", "MinimumPINLength"},
		{"minimum 6 accepts 6", PINPolicy{MinimumPINLength: 6}, "123456", ""},
		{"maximum 6 refuses 7", PINPolicy{MaximumPINLength: 6}, "1234567", "MaximumPINLength"},
		{"min greater than max reverts: 3 chars refused", PINPolicy{MinimumPINLength: 10, MaximumPINLength: 6}, "123", "MinimumPINLength"},
		{"min greater than max reverts: 8 chars accepted", PINPolicy{MinimumPINLength: 10, MaximumPINLength: 6}, "12345678", ""},
		{"out-of-range minimum takes default", PINPolicy{MinimumPINLength: 2}, "123", "MinimumPINLength"},
		{"out-of-range maximum takes default", PINPolicy{MaximumPINLength: 500}, strings.Repeat("1", 127), ""},
		{"uppercase required missing", PINPolicy{UppercaseLetters: RuleRequire}, "1234", "UppercaseLetters"},
		{"uppercase required present", PINPolicy{UppercaseLetters: RuleRequire}, "123A", ""},
		{"lowercase required missing", PINPolicy{LowercaseLetters: RuleRequire}, "1234", "LowercaseLetters"},
		{"lowercase required present", PINPolicy{LowercaseLetters: RuleRequire}, "123a", ""},
		{"special required missing", PINPolicy{SpecialCharacters: RuleRequire}, "1234", "SpecialCharacters"},
		{"special required present", PINPolicy{SpecialCharacters: RuleRequire}, "12#4", ""},
		{"digits allowed, none present", PINPolicy{Digits: RuleAllow, LowercaseLetters: RuleAllow}, "abcd", ""},
		{"digits disallowed", PINPolicy{Digits: RuleDisallow, LowercaseLetters: RuleAllow}, "abc1", "Digits"},
		{"uppercase allowed mixed", PINPolicy{UppercaseLetters: RuleAllow}, "12AB", ""},
		{"uppercase disallowed explicit", PINPolicy{UppercaseLetters: RuleDisallow}, "12AB", "UppercaseLetters"},
		{"all allowed", PINPolicy{UppercaseLetters: RuleAllow, LowercaseLetters: RuleAllow, SpecialCharacters: RuleAllow, Digits: RuleAllow}, "aB!~", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Check(tt.pin)
			if tt.wantRule == "" {
				if err != nil {
					t.Fatalf("Check(%q) = %v, want nil", tt.pin, err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("Check(%q) = %v, want *PolicyError", tt.pin, err)
			}
			if pe.Rule != tt.wantRule {
				t.Fatalf("rule = %q, want %q (%v)", pe.Rule, tt.wantRule, err)
			}
			if !strings.Contains(err.Error(), tt.wantRule) {
				t.Fatalf("message %q does not name rule %q", err, tt.wantRule)
			}
		})
	}
}

func TestPINPolicyEffective(t *testing.T) {
	tests := []struct {
		name   string
		policy PINPolicy
		want   PINPolicy
	}{
		{"zero is Windows default", PINPolicy{},
			PINPolicy{MinimumPINLength: 4, MaximumPINLength: 127, UppercaseLetters: RuleDisallow, LowercaseLetters: RuleDisallow, SpecialCharacters: RuleDisallow, Digits: RuleRequire}},
		{"min greater than max revert both", PINPolicy{MinimumPINLength: 12, MaximumPINLength: 8, Digits: RuleAllow},
			PINPolicy{MinimumPINLength: 4, MaximumPINLength: 127, UppercaseLetters: RuleDisallow, LowercaseLetters: RuleDisallow, SpecialCharacters: RuleDisallow, Digits: RuleAllow}},
		{"history and expiration clamped", PINPolicy{History: 99, Expiration: 1000},
			PINPolicy{MinimumPINLength: 4, MaximumPINLength: 127, UppercaseLetters: RuleDisallow, LowercaseLetters: RuleDisallow, SpecialCharacters: RuleDisallow, Digits: RuleRequire, History: 50, Expiration: 730}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.policy.Effective(); got != tt.want {
				t.Fatalf("Effective() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPINPolicyValidate(t *testing.T) {
	tests := []struct {
		name    string
		policy  PINPolicy
		wantErr string
	}{
		{"zero ok", PINPolicy{}, ""},
		{"minimum too small", PINPolicy{MinimumPINLength: 3}, "MinimumPINLength"},
		{"maximum too large", PINPolicy{MaximumPINLength: 128}, "MaximumPINLength"},
		{"history too large", PINPolicy{History: 51}, "History"},
		{"negative expiration", PINPolicy{Expiration: -1}, "Expiration"},
		{"unknown rule", PINPolicy{Digits: CharRule(9)}, "Digits"},
		{"everything disallowed", PINPolicy{Digits: RuleDisallow}, "every character class"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want mention of %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseCharRule(t *testing.T) {
	tests := []struct {
		in      int
		want    CharRule
		wantErr bool
	}{{0, RuleAllow, false}, {1, RuleRequire, false}, {2, RuleDisallow, false}, {3, RuleNotConfigured, true}, {-1, RuleNotConfigured, true}}
	for _, tt := range tests {
		got, err := ParseCharRule(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseCharRule(%d) = %v, %v", tt.in, got, err)
		}
		if err == nil && got.CSPValue() != tt.in {
			t.Errorf("CSPValue round trip of %d = %d", tt.in, got.CSPValue())
		}
	}
}

func TestPINPolicyExpired(t *testing.T) {
	set := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		days int
		now  time.Time
		want bool
	}{
		{"never", 0, set.AddDate(10, 0, 0), false},
		{"before", 30, set.Add(30*24*time.Hour - time.Second), false},
		{"at", 30, set.Add(30 * 24 * time.Hour), true},
		{"after", 30, set.AddDate(0, 2, 0), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (PINPolicy{Expiration: tt.days}).Expired(set, tt.now); got != tt.want {
				t.Fatalf("Expired = %v, want %v", got, tt.want)
			}
		})
	}
}
