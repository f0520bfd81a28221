package store

import (
	"context"
	"time"
)

// ConsoleSession is a signed-in session of the admin web console (server/console). It is
// stored under the SHA-256 of the cookie's secret, so the store never holds a usable cookie.
type ConsoleSession struct {
	// ID is the SHA-256 hex of the cookie secret.
	ID string `json:"id"`
	// Kind is ConsoleUser (an identity provider user holding an admin role) or ConsoleToken
	// (an admin API token).
	Kind string `json:"kind"`
	// TenantID and UserID name the user of a ConsoleUser session (TenantID is also the
	// tenant of a tenant-bound token); UPN is shown and used as the audit actor.
	TenantID string `json:"tenantId,omitempty"`
	UserID   string `json:"userId,omitempty"`
	UPN      string `json:"upn,omitempty"`
	// TokenHash is the SHA-256 hex of the admin token of a ConsoleToken session: the token is
	// looked up again on every request, so revoking it ends the session.
	TokenHash string `json:"tokenHash,omitempty"`
	// CSRF is the session's anti-forgery token, sent back with every state-changing request.
	CSRF       string    `json:"csrf"`
	CreatedAt  time.Time `json:"createdAt"`
	LastSeenAt time.Time `json:"lastSeenAt"`
	// IdleExpiresAt moves forward with use (LastSeenAt + the idle timeout); ExpiresAt is the
	// absolute end, fixed at sign-in. The session is over at the earlier of the two.
	IdleExpiresAt time.Time `json:"idleExpiresAt"`
	ExpiresAt     time.Time `json:"expiresAt"`
}

// Kinds of console sessions.
const (
	ConsoleUser  = "user"
	ConsoleToken = "token"
)

// Live reports whether the session may still be used at now.
func (s ConsoleSession) Live(now time.Time) bool {
	return now.Before(s.IdleExpiresAt) && now.Before(s.ExpiresAt)
}

// ConsoleSessions holds the console's sessions, shared by every replica on one store.
// Backends delete sessions past their absolute end as they create new ones, a bounded
// number per call (MaxConsoleSessionPrune).
type ConsoleSessions interface {
	// CreateConsoleSession stores a new session; ErrExists if its ID is taken.
	CreateConsoleSession(ctx context.Context, s ConsoleSession) error
	// ConsoleSession returns the session with that ID; ErrNotFound when there is none or it
	// is no longer Live at now.
	ConsoleSession(ctx context.Context, id string, now time.Time) (ConsoleSession, error)
	// TouchConsoleSession records use at now: LastSeenAt = now and IdleExpiresAt = idle.
	// ErrNotFound when the session is gone or no longer Live at now.
	TouchConsoleSession(ctx context.Context, id string, now, idle time.Time) error
	// DeleteConsoleSession ends a session (sign-out); no error when there is none.
	DeleteConsoleSession(ctx context.Context, id string) error
}

// MaxConsoleSessionPrune is how many expired console sessions a backend deletes, at most,
// while creating one.
const MaxConsoleSessionPrune = 64
