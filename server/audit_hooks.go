package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/enrollment"
	"github.com/hellomdm/hellomdm/pinreset/idp"
	"github.com/hellomdm/hellomdm/store"
)

// serviceAudit records what the enrollment service and the identity provider report (refused
// enrollments, sign-ins) in the tenant's audit log. A request whose tenant cannot be named
// (an unknown e-mail domain) has no log to go to; it is only logged.
type serviceAudit struct {
	st  store.Store
	now func() time.Time
	log *slog.Logger
	// metrics counts every refused enrollment and sign-in, with or without a tenant (nil: none).
	metrics *Metrics
}

// tenantOfUPN finds the tenant that verified the UPN's domain.
func (a serviceAudit) tenantOfUPN(ctx context.Context, upn string) string {
	at := strings.LastIndexByte(upn, '@')
	if at < 0 {
		return ""
	}
	t, err := a.st.TenantByDomain(ctx, strings.ToLower(upn[at+1:]))
	if err != nil {
		return ""
	}
	return t.ID
}

func (a serviceAudit) append(ctx context.Context, ev *audit.Event) {
	ev.ID, ev.Time = newEventID(), a.now().UTC()
	if err := a.st.AppendAudit(ctx, ev); err != nil {
		a.log.Error("recording audit event", "kind", ev.Kind, "err", err)
	}
}

// enrollmentRefused is enrollment.Config.OnRefused.
func (a serviceAudit) enrollmentRefused(ctx context.Context, r enrollment.Refusal) {
	a.metrics.enrollmentRefused()
	tid := a.tenantOfUPN(ctx, r.UPN)
	if tid == "" {
		return
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	fields := map[string]string{"path": r.Path, "action": r.Action, "code": r.Code, "subcode": r.Subcode,
		"errorType": r.ErrorType, "reason": r.Reason, "traceId": r.TraceID}
	if r.Detail != "" {
		fields["detail"] = r.Detail
	}
	details, _ := json.Marshal(fields)
	a.append(ctx, &audit.Event{TenantID: tid, Kind: audit.KindEnrollmentRefused,
		Actor:   audit.Actor{Type: audit.ActorUser, ID: r.UPN, SourceAddr: host},
		Subject: audit.Subject{Type: audit.SubjectUser, ID: r.UPN}, Action: "enroll", Details: details})
}

// signIn is idp.Config.OnSignIn: a sign-in is auth.signin, a refused one auth.refused.
func (a serviceAudit) signIn(ctx context.Context, e idp.SignInEvent) {
	a.metrics.signIn(e.OK)
	if e.TenantID == "" {
		// Refused before the tenant was looked up (a locked-out user): the UPN's domain
		// names the log.
		if e.TenantID = a.tenantOfUPN(ctx, e.UPN); e.TenantID == "" {
			return
		}
	}
	if e.Recorded {
		return // stored with the sign-in's own writes (idpUsers.CompleteSignIn)
	}
	a.append(ctx, signInEvent(e))
}

// signInEvent is the audit event of a sign-in attempt (ID and Time left to the caller):
// auth.signin when it succeeded, auth.refused otherwise.
func signInEvent(e idp.SignInEvent) *audit.Event {
	kind := audit.KindSignIn
	if !e.OK {
		kind = audit.KindAuthRefused
	}
	details, _ := json.Marshal(map[string]any{"audience": e.Audience, "mfa": e.MFA, "via": e.Via, "reason": e.Reason, "userId": e.UserID})
	return &audit.Event{TenantID: e.TenantID, Kind: kind,
		Actor:   audit.Actor{Type: audit.ActorUser, ID: e.UPN},
		Subject: audit.Subject{Type: audit.SubjectUser, ID: e.UserID}, Action: "signin", Details: details}
}

// returnRefused is idp.Config.OnReturnRefused: the sign-in page refused to post an
// enrollment token to appru, recorded as auth.refused in the tenant named by the user name.
func (a serviceAudit) returnRefused(ctx context.Context, tenantID, upn, appru string) {
	if tenantID == "" {
		return
	}
	details, _ := json.Marshal(map[string]string{"appru": appru,
		"reason": "return address (appru) is neither ms-app:// nor one of the tenant's enrollmentReturnUris"})
	a.append(ctx, &audit.Event{TenantID: tenantID, Kind: audit.KindAuthRefused,
		Actor:   audit.Actor{Type: audit.ActorUser, ID: upn},
		Subject: audit.Subject{Type: audit.SubjectUser, ID: upn}, Action: "enroll-return", Details: details})
}
