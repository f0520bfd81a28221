package wire

import "time"

// TenantRequest is the body of POST /tenants.
type TenantRequest struct {
	ID              string   `json:"id"`
	DisplayName     string   `json:"displayName"`
	VerifiedDomains []string `json:"verifiedDomains"`
	AuthPolicy      string   `json:"authPolicy"`
	FederationHost  string   `json:"federationHost"`
	GovCloud        bool     `json:"govCloud"`
	RoleScopeTagIDs []string `json:"roleScopeTagIds"`
	// EnrollmentReturnURIs are https addresses, besides Windows' ms-app:// ones, to which the
	// identity provider's sign-in page may post this tenant's enrollment tokens (appru).
	EnrollmentReturnURIs []string `json:"enrollmentReturnUris"`
}

// TenantPatch is the body of PATCH /tenants/{tid}; absent (nil) fields stay as they are.
type TenantPatch struct {
	DisplayName     *string   `json:"displayName"`
	VerifiedDomains *[]string `json:"verifiedDomains"`
	AuthPolicy      *string   `json:"authPolicy"`
	FederationHost  *string   `json:"federationHost"`
	GovCloud        *bool     `json:"govCloud"`
	// EnrollmentReturnURIs replaces the list when present.
	EnrollmentReturnURIs *[]string `json:"enrollmentReturnUris"`
}

// Tenant is how the API shows a tenant.
type Tenant struct {
	ID              string   `json:"id"`
	DisplayName     string   `json:"displayName"`
	VerifiedDomains []string `json:"verifiedDomains"`
	AuthPolicy      string   `json:"authPolicy"`
	FederationHost  string   `json:"federationHost,omitempty"`
	GovCloud        bool     `json:"govCloud"`
	RoleScopeTagIDs []string `json:"roleScopeTagIds"`
	// EnrollmentReturnURIs: see TenantRequest.
	EnrollmentReturnURIs []string  `json:"enrollmentReturnUris"`
	CreatedAt            time.Time `json:"createdAt"`
	UpdatedAt            time.Time `json:"updatedAt"`
}

// TenantWNS is GET /tenants/{tid}/wns: a tenant's WNS push settings.
type TenantWNS struct {
	PFN        string `json:"pfn"`
	PackageSID string `json:"packageSid"`
	// ClientSecretConfigured says whether a client secret is stored (never the secret).
	ClientSecretConfigured bool `json:"clientSecretConfigured"`
}

// TenantWNSPatch is the body of PATCH /tenants/{tid}/wns: only the fields given change; ""
// clears one. A PFN needs a package SID and a client secret (given now or stored): without
// them no wake-up could be sent. Clearing the PFN makes every device of the tenant drop it
// (a Delete of Push/PFN at its next session).
type TenantWNSPatch struct {
	PFN          *string `json:"pfn"`
	PackageSID   *string `json:"packageSid"`
	ClientSecret *string `json:"clientSecret"`
}

// Overview is GET /tenants/{tid}/overview: the tenant's figures, read from counts the store
// keeps with every write, so the answer costs no scan of devices or setting states.
type Overview struct {
	TenantID string `json:"tenantId"`
	// DevicesByState counts the devices the caller sees by enrollment state.
	DevicesByState map[string]int `json:"devicesByState"`
	// CanReset counts enrolled devices by CanReset as the device list shows it (the tenant's
	// PIN reset availability applied); "" is not reported yet.
	CanReset map[string]int `json:"canReset"`
	// CheckedInSince is the start of the check-in window (?since=, default an hour ago, to
	// the minute) and CheckedIn how many devices checked in since then.
	CheckedInSince time.Time `json:"checkedInSince"`
	CheckedIn      int       `json:"checkedIn"`
	// ProfilesInTrouble are the caller's visible profiles with settings in error or
	// conflict on some device, most errors first.
	ProfilesInTrouble []ProfileTrouble `json:"profilesInTrouble"`
}

// ProfileTrouble is one profile with device settings in error or conflict.
type ProfileTrouble struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Route    string `json:"route"` // configurationPolicies or deviceConfigurations
	Error    int    `json:"error"`
	Conflict int    `json:"conflict"`
}

// ConsentRequest is the body of POST /tenants/{tid}/pinReset/consent. App is "service" (the
// Microsoft PIN Reset Service), "client" (the PIN Reset Client), or an application ID.
type ConsentRequest struct {
	App     string `json:"app"`
	Granted *bool  `json:"granted"`
}

// ServicePrincipal is one PIN reset enterprise application with the tenant's consent.
type ServicePrincipal struct {
	App         string     `json:"app"` // "service" or "client"
	AppID       string     `json:"appId"`
	DisplayName string     `json:"displayName"`
	Consented   bool       `json:"consented"`
	ConsentedAt *time.Time `json:"consentedAt"`
}

// ServicePrincipals is the answer of the PIN reset routes: the applications and, after a
// consent, what will not work as it seems to (a government cloud tenant).
type ServicePrincipals struct {
	Value    []ServicePrincipal `json:"value"`
	Warnings []string           `json:"warnings,omitempty"`
}

// TokenRequest is the body of POST /tokens.
type TokenRequest struct {
	Name            string   `json:"name"`
	Role            string   `json:"role"`
	TenantID        string   `json:"tenantId"`
	RoleScopeTagIDs []string `json:"roleScopeTagIds"`
	// ExpiresAt, when set, is when the token stops being accepted (must be in the future).
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
}

// Token is how the API shows an admin token: never its secret or hash.
type Token struct {
	ID              string    `json:"id"`
	Name            string    `json:"name"`
	Role            string    `json:"role"`
	TenantID        string    `json:"tenantId"`
	RoleScopeTagIDs []string  `json:"roleScopeTagIds"`
	CreatedAt       time.Time `json:"createdAt"`
	ExpiresAt       time.Time `json:"expiresAt,omitzero"`
}

// CreatedToken is the answer of POST /tokens: the only time the secret is shown.
type CreatedToken struct {
	Token
	Secret string `json:"token"`
}
