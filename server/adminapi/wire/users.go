package wire

import "time"

// PasswordProfile is the password of a new user (Microsoft Graph's passwordProfile).
type PasswordProfile struct {
	Password string `json:"password"`
}

// UserRequest is the body of POST /tenants/{tid}/users (the Microsoft Graph user shape).
type UserRequest struct {
	UserPrincipalName string          `json:"userPrincipalName"`
	DisplayName       string          `json:"displayName"`
	PasswordProfile   PasswordProfile `json:"passwordProfile"`
	RoleScopeTagIDs   []string        `json:"roleScopeTagIds"`
}

// User is how the API shows a user; the password hash and TOTP secret never leave the store.
type User struct {
	ID                string   `json:"id"`
	UserPrincipalName string   `json:"userPrincipalName"`
	DisplayName       string   `json:"displayName,omitempty"`
	TOTPEnrolled      bool     `json:"totpEnrolled"`
	AccountEnabled    bool     `json:"accountEnabled"`
	RoleScopeTagIDs   []string `json:"roleScopeTagIds"`
	// AdminRole is the user's role in the web console ("" when none) and
	// AdminRoleScopeTagIDs the scope tags it is limited to (none: the whole tenant).
	AdminRole            string    `json:"adminRole,omitempty"`
	AdminRoleScopeTagIDs []string  `json:"adminRoleScopeTagIds"`
	CreatedAt            time.Time `json:"createdAt"`
}

// UserPatch is the body of PATCH /tenants/{tid}/users/{uid}: Graph's accountEnabled.
type UserPatch struct {
	AccountEnabled *bool `json:"accountEnabled"`
}

// AdminRoleRequest is the body of PUT /tenants/{tid}/users/{uid}/adminRole.
type AdminRoleRequest struct {
	Role            string   `json:"role"`
	RoleScopeTagIDs []string `json:"roleScopeTagIds"`
}

// TOTP is the answer of a TOTP enrollment: shown once, never stored in the audit log.
type TOTP struct {
	Secret string `json:"secret"`
	URI    string `json:"uri"`
}

// GroupRequest is the body of POST /tenants/{tid}/groups.
type GroupRequest struct {
	DisplayName string `json:"displayName"`
	Description string `json:"description"`
}

// Group is how the API shows a group.
type Group struct {
	ID          string    `json:"id"`
	DisplayName string    `json:"displayName"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	// MemberCount counts the group's direct members; only in the answer about one group
	// (GET .../groups/{gid}).
	MemberCount *int `json:"memberCount,omitempty"`
}

// MemberRequest is the body of POST .../groups/{gid}/members: the ID of a user, device or
// group of the tenant (a user may also be named by UPN).
type MemberRequest struct {
	ID string `json:"id"`
}

// Member is one direct member of a group.
type Member struct {
	Kind string `json:"kind"` // user, device or group
	ID   string `json:"id"`
}
