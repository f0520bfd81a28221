// Package resetpolicy is the reset agent's policy on the device: PassportForWork
// ({TenantId}/Policies under ./Device and ./User; passportforwork-csp) and the Policy CSP
// Authentication area (policy-csp-authentication), kept as the raw node values in
// policy.json and derived into a Policy for Hello provisioning and the PIN reset flow. Its
// State is the csp.Handler of those subtrees.
//
// A device-scope PassportForWork value wins over a user-scope one; only the enrolled
// tenant's {TenantId} counts (or the first one seen while the tenant is unknown).
package resetpolicy

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hellomdm/hellomdm/csp"
	"github.com/hellomdm/hellomdm/device/hello"
	"github.com/hellomdm/hellomdm/device/internal/statefile"
)

// Policy is the reset agent's policy state, fed by the PassportForWork CSP
// ({TenantId}/Policies under ./Device and ./User; passportforwork-csp) and the Policy CSP
// Authentication area (policy-csp-authentication). A node that is unset or deleted takes its
// DDF default.
type Policy struct {
	// TenantID is the tenant whose PassportForWork policies apply ("" when none is set).
	TenantID              string
	UsePassportForWork    bool // default true
	RequireSecurityDevice bool // default false
	// PINRecoveryEnabled is EnablePinRecovery (default false): non-destructive PIN reset.
	PINRecoveryEnabled bool
	PINComplexity      hello.PINPolicy
	// WebSignInAllowedURLs is ConfigureWebSignInAllowedUrls split on ';' (default empty).
	WebSignInAllowedURLs []string
}

// URIs of the nodes the policy reads (canonical form, csp.Canonical).
const (
	PassportDevice     = "./Device/Vendor/MSFT/PassportForWork"
	PassportUser       = "./User/Vendor/MSFT/PassportForWork"
	AuthenticationArea = "./Device/Vendor/MSFT/Policy/Config/Authentication"
	webSignInAllowed   = AuthenticationArea + "/ConfigureWebSignInAllowedUrls"
)

// State keeps the raw values of the nodes the policy derives from, persisted in
// policy.json, so the policy survives restarts and follows every change and rollback the
// CSP tree reports.
type State struct {
	mu     sync.Mutex
	path   string
	hook   func(enabled bool) error
	tenant string
	Values map[string]string `json:"values"`
}

// Open reads the state kept at path (none yet: no values). hook, when not nil, is called with
// the new value when the effective EnablePinRecovery changes, with the state's lock held (it
// must not call Policy); an error fails the change.
func Open(path string, hook func(enabled bool) error) (*State, error) {
	p := &State{path: path, hook: hook, Values: map[string]string{}}
	if _, err := statefile.ReadJSON(path, p); err != nil {
		return nil, fmt.Errorf("opening policy state: %w", err)
	}
	if p.Values == nil {
		p.Values = map[string]string{}
	}
	return p, nil
}

// SetTenant names the enrolled tenant, whose PassportForWork nodes count.
func (p *State) SetTenant(t string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tenant = t
}

// Policy derives the policy from the current values.
func (p *State) Policy() Policy {
	p.mu.Lock()
	defer p.mu.Unlock()
	return derivePolicy(p.Values, p.tenant)
}

// changed applies one node change reported by the tree; a hook error or a failed save undoes
// it and fails the command.
func (p *State) changed(uri, value string, deleted bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	before := derivePolicy(p.Values, p.tenant)
	old, had := p.Values[uri]
	if deleted {
		delete(p.Values, uri)
	} else {
		p.Values[uri] = value
	}
	restore := func() {
		if had {
			p.Values[uri] = old
		} else {
			delete(p.Values, uri)
		}
	}
	after := derivePolicy(p.Values, p.tenant)
	if after.PINRecoveryEnabled != before.PINRecoveryEnabled && p.hook != nil {
		if err := p.hook(after.PINRecoveryEnabled); err != nil {
			restore()
			return fmt.Errorf("applying EnablePinRecovery=%t: %w", after.PINRecoveryEnabled, err)
		}
	}
	if err := statefile.WriteJSON(p.path, p); err != nil {
		restore()
		if after.PINRecoveryEnabled != before.PINRecoveryEnabled && p.hook != nil {
			_ = p.hook(before.PINRecoveryEnabled) // best effort: the change is being undone
		}
		return err
	}
	return nil
}

// derivePolicy computes the policy. For PassportForWork a device-scope value wins over a
// user-scope one (the Hello for Business group policy gives computer settings precedence);
// only the enrolled tenant's nodes count, or, while the tenant is unknown, the first tenant
// (sorted) that has any.
func derivePolicy(values map[string]string, tenant string) Policy {
	if tenant == "" {
		for _, uri := range slices.Sorted(maps.Keys(values)) {
			if t, ok := tenantOf(uri); ok {
				tenant = t
				break
			}
		}
	}
	get := func(rel string) (string, bool) {
		for _, root := range []string{PassportDevice, PassportUser} {
			if v, ok := values[root+"/"+tenant+"/Policies/"+rel]; ok && tenant != "" {
				return v, true
			}
		}
		return "", false
	}
	boolean := func(rel string, def bool) bool {
		if v, ok := get(rel); ok {
			return v == "true"
		}
		return def
	}
	integer := func(rel string) int {
		if v, ok := get(rel); ok {
			if n, err := strconv.Atoi(v); err == nil {
				return n
			}
		}
		return 0
	}
	rule := func(rel string) hello.CharRule {
		v, ok := get("PINComplexity/" + rel)
		if !ok {
			return hello.RuleNotConfigured
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return hello.RuleNotConfigured
		}
		r, err := hello.ParseCharRule(n)
		if err != nil {
			return hello.RuleNotConfigured
		}
		return r
	}
	p := Policy{
		TenantID:              tenant,
		UsePassportForWork:    boolean("UsePassportForWork", true),
		RequireSecurityDevice: boolean("RequireSecurityDevice", false),
		PINRecoveryEnabled:    boolean("EnablePinRecovery", false),
		PINComplexity: hello.PINPolicy{
			MinimumPINLength:  integer("PINComplexity/MinimumPINLength"),
			MaximumPINLength:  integer("PINComplexity/MaximumPINLength"),
			UppercaseLetters:  rule("UppercaseLetters"),
			LowercaseLetters:  rule("LowercaseLetters"),
			SpecialCharacters: rule("SpecialCharacters"),
			Digits:            rule("Digits"),
			History:           integer("PINComplexity/History"),
			Expiration:        integer("PINComplexity/Expiration"),
		},
	}
	// MinimumPINLength above MaximumPINLength: both revert to their defaults (passportforwork-csp).
	if c := &p.PINComplexity; c.MinimumPINLength != 0 && c.MaximumPINLength != 0 && c.MinimumPINLength > c.MaximumPINLength {
		c.MinimumPINLength, c.MaximumPINLength = 0, 0
	}
	if v := values[webSignInAllowed]; v != "" {
		for _, d := range strings.Split(v, ";") {
			if d = strings.TrimSpace(d); d != "" {
				p.WebSignInAllowedURLs = append(p.WebSignInAllowedURLs, d)
			}
		}
	}
	return p
}

// tenantOf returns the {TenantId} segment of a PassportForWork URI.
func tenantOf(uri string) (string, bool) {
	for _, root := range []string{PassportDevice, PassportUser} {
		if rest, ok := strings.CutPrefix(uri, root+"/"); ok {
			t, _, _ := strings.Cut(rest, "/")
			return t, t != ""
		}
	}
	return "", false
}

// WebSignInAllowed reports whether host may be opened by web sign-in: it must equal an entry
// of ConfigureWebSignInAllowedUrls, case-insensitively (policy-csp-authentication).
func (p Policy) WebSignInAllowed(host string) bool {
	for _, d := range p.WebSignInAllowedURLs {
		if strings.EqualFold(d, host) {
			return true
		}
	}
	return false
}

// Handlers are the csp.Handlers of the subtrees the policy derives from.
func (p *State) Handlers() []csp.Handler {
	return []csp.Handler{handler{PassportDevice, p}, handler{PassportUser, p}, handler{AuthenticationArea, p}}
}

// handler is the csp.Handler of one subtree feeding the policy.
type handler struct {
	prefix string
	state  *State
}

var _ csp.Handler = handler{}

func (h handler) Prefix() string { return h.prefix }

func (h handler) Get(string) (string, bool, error) { return "", false, nil }

func (h handler) Changed(uri, value string, deleted bool) error {
	return h.state.changed(uri, value, deleted)
}
