package hello

import (
	"errors"
	"fmt"
	"time"
)

// PIN complexity limits of the PassportForWork CSP, PINComplexity node
// (learn.microsoft.com/windows/client-management/mdm/passportforwork-csp).
const (
	DefaultMinimumPINLength = 4   // MinimumPINLength default and lower bound
	DefaultMaximumPINLength = 127 // MaximumPINLength default and upper bound
	MaxHistory              = 50  // History upper bound
	MaxExpirationDays       = 730 // Expiration upper bound; 0 means never
)

// CharRule is one of the PINComplexity character-class nodes (UppercaseLetters,
// LowercaseLetters, SpecialCharacters, Digits). Its zero value means "not configured",
// which Windows treats as "not allowed" for letters and special characters and as
// "required" for digits (PassportForWork CSP descriptions); use ParseCharRule to convert
// the CSP integer.
type CharRule int

// Character-class rules.
const (
	RuleNotConfigured CharRule = iota // node absent: the Windows default applies
	RuleAllow                         // CSP value 0: may be used
	RuleRequire                       // CSP value 1: at least one is required
	RuleDisallow                      // CSP value 2: must not be used
)

// ParseCharRule converts a PINComplexity CSP value (0 allow, 1 require, 2 disallow).
func ParseCharRule(cspValue int) (CharRule, error) {
	switch cspValue {
	case 0:
		return RuleAllow, nil
	case 1:
		return RuleRequire, nil
	case 2:
		return RuleDisallow, nil
	}
	return RuleNotConfigured, fmt.Errorf("parsing PINComplexity character rule: %d is not 0, 1 or 2", cspValue)
}

// CSPValue returns the CSP integer of the rule, or -1 when not configured.
func (r CharRule) CSPValue() int {
	switch r {
	case RuleAllow:
		return 0
	case RuleRequire:
		return 1
	case RuleDisallow:
		return 2
	}
	return -1
}

func (r CharRule) String() string {
	switch r {
	case RuleNotConfigured:
		return "not configured"
	case RuleAllow:
		return "allowed"
	case RuleRequire:
		return "required"
	case RuleDisallow:
		return "not allowed"
	}
	return fmt.Sprintf("CharRule(%d)", int(r))
}

// PINPolicy mirrors PassportForWork/{TenantId}/Policies/PINComplexity. The zero value is the
// Windows default: 4 to 127 characters, digits only, no history, no expiration.
type PINPolicy struct {
	MinimumPINLength  int // 4–127; 0 = default 4
	MaximumPINLength  int // 4–127; 0 = default 127
	UppercaseLetters  CharRule
	LowercaseLetters  CharRule
	SpecialCharacters CharRule
	Digits            CharRule
	History           int // 0–50: the last N PINs (the current one included) can't be reused
	Expiration        int // days, 0–730; 0 = never
}

// Validate reports values outside the ranges the CSP accepts. Check never fails because of
// them: it applies Effective first.
func (p PINPolicy) Validate() error {
	var errs []error
	for _, l := range []struct {
		name string
		v    int
	}{{"MinimumPINLength", p.MinimumPINLength}, {"MaximumPINLength", p.MaximumPINLength}} {
		if l.v != 0 && (l.v < DefaultMinimumPINLength || l.v > DefaultMaximumPINLength) {
			errs = append(errs, fmt.Errorf("%s %d is outside %d–%d", l.name, l.v, DefaultMinimumPINLength, DefaultMaximumPINLength))
		}
	}
	for _, c := range p.classes() {
		if c.rule < RuleNotConfigured || c.rule > RuleDisallow {
			errs = append(errs, fmt.Errorf("%s has unknown value %d", c.name, int(c.rule)))
		}
	}
	if p.History < 0 || p.History > MaxHistory {
		errs = append(errs, fmt.Errorf("History %d is outside 0–%d", p.History, MaxHistory))
	}
	if p.Expiration < 0 || p.Expiration > MaxExpirationDays {
		errs = append(errs, fmt.Errorf("Expiration %d is outside 0–%d", p.Expiration, MaxExpirationDays))
	}
	allOff := true
	for _, c := range p.Effective().classes() {
		if c.rule != RuleDisallow {
			allOff = false
		}
	}
	if allOff {
		errs = append(errs, errors.New("every character class is disallowed, no PIN can satisfy the policy"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("validating PIN policy: %w", errors.Join(errs...))
	}
	return nil
}

// Effective returns the policy Windows enforces: unset or out-of-range lengths take their
// defaults, and when MinimumPINLength exceeds MaximumPINLength both revert to the defaults
// (PassportForWork CSP, MaximumPINLength description); not-configured character classes
// become "not allowed", except Digits which becomes "required"; History and Expiration are
// clamped to their ranges.
func (p PINPolicy) Effective() PINPolicy {
	e := p
	if e.MinimumPINLength < DefaultMinimumPINLength || e.MinimumPINLength > DefaultMaximumPINLength {
		e.MinimumPINLength = DefaultMinimumPINLength
	}
	if e.MaximumPINLength < DefaultMinimumPINLength || e.MaximumPINLength > DefaultMaximumPINLength {
		e.MaximumPINLength = DefaultMaximumPINLength
	}
	if e.MinimumPINLength > e.MaximumPINLength {
		e.MinimumPINLength, e.MaximumPINLength = DefaultMinimumPINLength, DefaultMaximumPINLength
	}
	fix := func(r *CharRule, def CharRule) {
		if *r == RuleNotConfigured || *r < RuleNotConfigured || *r > RuleDisallow {
			*r = def
		}
	}
	fix(&e.UppercaseLetters, RuleDisallow)
	fix(&e.LowercaseLetters, RuleDisallow)
	fix(&e.SpecialCharacters, RuleDisallow)
	fix(&e.Digits, RuleRequire)
	e.History = min(max(e.History, 0), MaxHistory)
	e.Expiration = min(max(e.Expiration, 0), MaxExpirationDays)
	return e
}

type charClass struct {
	name string
	rule CharRule
	has  func(byte) bool
	what string
}

func (p PINPolicy) classes() []charClass {
	return []charClass{
		{"Digits", p.Digits, isDigit, "a digit"},
		{"UppercaseLetters", p.UppercaseLetters, isUpper, "an uppercase letter"},
		{"LowercaseLetters", p.LowercaseLetters, isLower, "a lowercase letter"},
		{"SpecialCharacters", p.SpecialCharacters, isSpecial, "a special character"},
	}
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }
func isUpper(b byte) bool { return b >= 'A' && b <= 'Z' }
func isLower(b byte) bool { return b >= 'a' && b <= 'z' }

// isSpecial reports the printable ASCII characters that are neither letters nor digits,
// space included: the set the PassportForWork CSP calls special characters.
func isSpecial(b byte) bool {
	return b >= 0x20 && b <= 0x7e && !isDigit(b) && !isUpper(b) && !isLower(b)
}

// Check reports whether pin satisfies the effective policy. The error is a *PolicyError
// naming the rule ("Characters" for characters outside printable ASCII). History is checked
// by the container, which holds the old PINs.
func (p PINPolicy) Check(pin string) error {
	e := p.Effective()
	for i := 0; i < len(pin); i++ {
		if pin[i] < 0x20 || pin[i] > 0x7e {
			return &PolicyError{Rule: "Characters", Reason: fmt.Sprintf("character %d is not a printable ASCII character", i+1)}
		}
	}
	if len(pin) < e.MinimumPINLength {
		return &PolicyError{Rule: "MinimumPINLength", Reason: fmt.Sprintf("PIN must have at least %d characters", e.MinimumPINLength)}
	}
	if len(pin) > e.MaximumPINLength {
		return &PolicyError{Rule: "MaximumPINLength", Reason: fmt.Sprintf("PIN must have at most %d characters", e.MaximumPINLength)}
	}
	for _, c := range e.classes() {
		found := false
		for i := 0; i < len(pin); i++ {
			if c.has(pin[i]) {
				found = true
				break
			}
		}
		switch {
		case c.rule == RuleRequire && !found:
			return &PolicyError{Rule: c.name, Reason: "PIN must contain " + c.what}
		case c.rule == RuleDisallow && found:
			return &PolicyError{Rule: c.name, Reason: "PIN must not contain " + c.what}
		}
	}
	return nil
}

// Expired reports whether a PIN set at setAt has expired at now under the policy's
// Expiration (days; 0 never expires).
func (p PINPolicy) Expired(setAt, now time.Time) bool {
	days := p.Effective().Expiration
	if days == 0 {
		return false
	}
	return !now.Before(setAt.Add(time.Duration(days) * 24 * time.Hour))
}
