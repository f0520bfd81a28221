package omadm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/internal/eventid"
	"github.com/hellomdm/hellomdm/policy"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/syncml"
)

// Config tunes the OMA-DM session engine. Zero values take the defaults.
type Config struct {
	// ServerURL is the Source LocURI of the server's messages (the management URL).
	ServerURL string
	// MaxAttempts is how many error Statuses a command may collect before it is marked
	// failed. Default 3.
	MaxAttempts int
	// RetryBackoff is the wait before the first retry; it doubles with each attempt.
	// Default 1 minute. Zero is allowed only through NoBackoff (tests, impatient admins).
	RetryBackoff time.Duration
	NoBackoff    bool
	// ClaimLease is how long a command sent in one session stays reserved to it. A session
	// that breaks off leaves its claims to expire; the next session after that sends the
	// command again. Default 30 s (Windows' own retry backoff, INITIALBACKOFFTIME).
	ClaimLease time.Duration
	// DefaultMaxMsgSize applies when the client's SyncHdr carries no MaxMsgSize.
	// Default 512 KiB.
	DefaultMaxMsgSize int
	// MaxBodyBytes bounds a client message. Default syncml.DefaultMaxMessageBytes (1 MiB).
	MaxBodyBytes int
	// PinResetAvailability returns the truth about the PIN reset service of a device's
	// tenant (engine_pinreset.go), read when the device reports its own view; nil disables
	// the correction. New sets it from the store.
	PinResetAvailability func(ctx context.Context, deviceID string) (string, error)
	// PushPFN returns the WNS package family name of a device's tenant ("" none), read at
	// the first message of each session (engine_push.go); nil disables push provisioning.
	// ProviderID names the DMClient provider whose Push nodes it writes (the enrollment's
	// PROVIDER-ID; default "hellomdm", enrollment.DefaultProviderID). ChannelAllowed checks
	// a channel URI a device reports (the WNS allowlist); nil keeps none.
	PushPFN        func(ctx context.Context, deviceID string) (string, error)
	ProviderID     string
	ChannelAllowed func(channelURI string) error
	// Sessions counts session starts and ends (nil: not counted).
	Sessions SessionCounter
	Now      func() time.Time
	Logger   *slog.Logger
}

// SessionCounter is told when a committed client message opened or ended a session (the
// server's Prometheus metrics implement it).
type SessionCounter interface {
	SessionStarted()
	// SessionEnded reports how the session ended: SessionCompleted, SessionAborted or
	// SessionUnenrolled.
	SessionEnded(outcome string)
}

// How a session ended (the outcome SessionCounter.SessionEnded is given).
const (
	SessionCompleted  = "completed"  // the server's last message had no commands
	SessionAborted    = "aborted"    // the client sent Alert 1223
	SessionUnenrolled = "unenrolled" // the client asked to leave management
)

func (c Config) withDefaults() Config {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 3
	}
	if c.RetryBackoff <= 0 && !c.NoBackoff {
		c.RetryBackoff = time.Minute
	}
	if c.ClaimLease <= 0 {
		c.ClaimLease = 30 * time.Second
	}
	if c.DefaultMaxMsgSize <= 0 {
		c.DefaultMaxMsgSize = 512 << 10
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = syncml.DefaultMaxMessageBytes
	}
	if c.ProviderID == "" {
		c.ProviderID = "hellomdm"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// PolicyHook lets the policy engine take part in a check-in. It plans and the session engine
// applies: the engine reads the device's confirmed state inside the check-in transaction,
// hands it over, and writes the returned policy.Plan in the same transaction
// (policyhook.go). Only typed values cross.
//
// Whether a device's desired state may have changed (policy.Check.Stale) is decided inside
// the check-in transaction, from the device, what it was last resolved from and its tenant's
// policy version; an idle check-in reads nothing more. A stale device is reconciled against
// the tenant's snapshot at that version or later: Cached gives it when the process holds it;
// otherwise the transaction is abandoned (nothing written), Load reads it outside any
// transaction, and the check-in runs again.
type PolicyHook interface {
	// Cached returns the tenant's policy snapshot at version or later if the process holds
	// one (the hook's cache), else nil. It reads nothing: it runs inside the transaction.
	Cached(tenantID string, version uint64) *policy.Snapshot
	// Load reads the tenant's policy snapshot (at version or later) from the store, outside
	// any transaction, and caches it.
	Load(ctx context.Context, tenantID string, version uint64) (*policy.Snapshot, error)
	// Reconcile plans, for a stale device, what the device's desired state now requires,
	// from its setting states and the Delivery of each command policy.Awaited names
	// (policy.Engine.Reconcile).
	Reconcile(snap *policy.Snapshot, dev policy.DeviceInfo, states []store.SettingState, cmds map[string]policy.Delivery, now time.Time) (policy.Plan, error)
	// Outcome plans how a command's recorded Status or Results moves the device's setting
	// states; the engine asks only for commands policy.Follows (policy.Engine.Outcome).
	Outcome(states []store.SettingState, cmd policy.CommandResult, now time.Time) policy.Plan
}

// Engine runs OMA-DM sessions (MS-MDM; OMA-TS-DM_Protocol-V1_2_1 §6–8) over the store.
type Engine struct {
	cfg    Config
	store  store.Checkins
	policy PolicyHook
	log    *slog.Logger
	// tenants maps a device to its tenant (which never changes) as its last check-in read
	// it, so a message's transaction reads the tenant's policy version with the device.
	tenants  sync.Map
	nTenants atomic.Int64
}

// NewEngine builds a session engine. policy may be nil.
func NewEngine(cfg Config, st store.Checkins, policy PolicyHook) *Engine {
	cfg = cfg.withDefaults()
	return &Engine{cfg: cfg, store: st, policy: policy, log: cfg.Logger.With("component", "omadm")}
}

// Request is one client message as the HTTP layer hands it to the engine.
type Request struct {
	DeviceID   string // from the verified client certificate
	CertSerial string // upper-case hex serial of that certificate
	Body       []byte
	Message    *syncml.Message
	SourceAddr string
}

// Refusal is a check-in the engine refused; Reply (when set) is a SyncML answer carrying
// the refusal in the SyncHdr Status, and nothing was stored.
type Refusal struct {
	Code   int // SyncML status for the SyncHdr
	Reason string
	Reply  []byte
}

func (r *Refusal) Error() string { return fmt.Sprintf("check-in refused (%d): %s", r.Code, r.Reason) }

// needSnapshot abandons a check-in's transaction whose device must be reconciled against a
// tenant snapshot the process does not hold: HandleReplay loads it outside the transaction
// and runs the check-in again, up to maxSnapshotLoads times (each load is of the version the
// transaction saw, so only a policy changing again meanwhile needs another).
type needSnapshot struct {
	tenantID string
	version  uint64
}

func (n *needSnapshot) Error() string {
	return fmt.Sprintf("policy snapshot of tenant %s at version %d not loaded", n.tenantID, n.version)
}

const maxSnapshotLoads = 3

// errReplay carries the stored reply of a repeated client message; nothing is written. It is
// a pointer type: bbolt compares batch errors, and a struct holding a slice is not comparable.
type errReplay struct{ reply []byte }

func (*errReplay) Error() string { return "repeated client message" }

// Config returns the engine's configuration with the defaults applied.
func (e *Engine) Config() Config { return e.cfg }

// Handle processes one client message and returns the reply to send. The reply is returned
// only after the transaction that recorded everything has committed.
func (e *Engine) Handle(ctx context.Context, req Request) ([]byte, error) {
	reply, _, err := e.HandleReplay(ctx, req)
	return reply, err
}

// HandleReplay is Handle, also saying whether the reply is a stored one (a repeated message,
// answered without recording anything).
func (e *Engine) HandleReplay(ctx context.Context, req Request) (reply []byte, replayed bool, err error) {
	hdr := req.Message.Header
	if hdr.Source != req.DeviceID {
		return nil, false, e.refuse(req, syncml.StatusForbidden, fmt.Sprintf("SyncHdr Source %q is not the certificate's device %q", hdr.Source, req.DeviceID))
	}
	msgID, err := strconv.Atoi(strings.TrimSpace(hdr.MsgID))
	if err != nil || msgID < 1 {
		return nil, false, e.refuse(req, syncml.StatusBadRequest, fmt.Sprintf("MsgID %q is not a positive number", hdr.MsgID))
	}
	// The body's hash matters only where a reply may be replayed (retransmission): always
	// past MsgID 1, where it is taken here, outside the transaction. At MsgID 1 the step takes
	// it if it finds a stored reply to compare with or keeps its own (requestHash); an idle
	// check-in needs it for neither.
	var reqHash string
	if msgID > 1 {
		reqHash = bodyHash(req.Body)
	}

	truth, err := e.pinResetTruth(ctx, req)
	if err != nil {
		return nil, false, fmt.Errorf("reading the PIN reset service state: %w", err)
	}
	pfn, pushKnown, err := e.pushPFN(ctx, req, msgID)
	if err != nil {
		return nil, false, fmt.Errorf("reading the tenant's WNS settings: %w", err)
	}
	var (
		last     *step            // the run of fn whose transaction committed (fn may run more than once)
		prepared *policy.Snapshot // loaded outside after a run needed it (needSnapshot)
	)
	for attempt := 1; ; attempt++ {
		err = e.store.Checkin(ctx, req.DeviceID, func(tx store.DeviceTx) error {
			st := &step{e: e, ctx: ctx, tx: tx, req: req, msgID: msgID, reqHash: reqHash, now: e.cfg.Now().UTC(), prepared: prepared, pinResetTruth: truth,
				pushPFN: pfn, pushKnown: pushKnown}
			last = st
			out, err := st.run()
			if err != nil {
				return err
			}
			reply = out
			return nil
		})
		var ns *needSnapshot
		if !errors.As(err, &ns) || attempt == maxSnapshotLoads {
			break
		}
		if prepared, err = e.policy.Load(ctx, ns.tenantID, ns.version); err != nil {
			return nil, false, fmt.Errorf("loading policy: %w", err)
		}
	}
	var rp *errReplay
	switch {
	case err == nil:
		last.count()
		e.learnTenant(req.DeviceID, last.dev.TenantID)
		return reply, false, nil
	case errors.As(err, &rp):
		e.log.Info("repeated client message answered from the stored reply", "device", req.DeviceID, "session", hdr.SessionID, "msg", hdr.MsgID)
		return rp.reply, true, nil
	}
	var rf *Refusal
	if errors.As(err, &rf) {
		return nil, false, e.refuse(req, rf.Code, rf.Reason)
	}
	return nil, false, err
}

// refuse builds a SyncML reply whose SyncHdr Status carries code, and logs the refusal.
func (e *Engine) refuse(req Request, code int, reason string) *Refusal {
	e.log.Warn("check-in refused", "device", req.DeviceID, "code", code, "reason", reason, "addr", req.SourceAddr)
	hdr := req.Message.Header
	b := syncml.NewBuilder(syncml.ReplyHeader(hdr, "1"), 1)
	b.StatusSyncHdr(hdr.MsgID, code, nil)
	out, err := b.Bytes(true)
	if err != nil {
		out = nil
	}
	return &Refusal{Code: code, Reason: reason, Reply: out}
}

func newSession(deviceID, sessionID string, now time.Time) store.Session {
	return store.Session{DeviceID: deviceID, SessionID: sessionID, Key: eventid.New(), StartedAt: now}
}

// step is the work of one client message inside one transaction.
type step struct {
	e       *Engine
	ctx     context.Context
	tx      store.DeviceTx
	req     Request
	msgID   int
	reqHash string // requestHash's memo
	now     time.Time
	// prepared is the tenant snapshot an earlier run of this check-in needed and
	// HandleReplay loaded (nil when none did).
	prepared *policy.Snapshot
	// pinResetTruth is the device's tenant's PIN reset service state when the message
	// reports the device's view of it ("" otherwise; engine_pinreset.go).
	pinResetTruth string
	// pushPFN is the tenant's WNS PFN when pushKnown (the first message of a session;
	// engine_push.go).
	pushPFN   string
	pushKnown bool

	dev      store.Device
	devDirty bool
	sess     store.Session
	started  bool // this message opened a new session
	unstored bool // no record of the message's SessionID was stored before it
	b        *syncml.Builder
	cmds     map[string]*store.Command // loaded commands by ID (nil until the first: track)
	dirty    map[string]bool           // commands to write back (markDirty)
	answered map[string]bool           // "MsgRef:CmdRef" already recorded in this message (firstAnswer)
	events   []*audit.Event
	abort    bool // client sent Alert 1223
	unenroll bool // client sent the unenrollment generic alert
}

func (s *step) run() ([]byte, error) {
	hdr := s.req.Message.Header
	// A Final message reconciles policy (conclude): its reads go with the device's too.
	s.tx.Prefetch(store.Prefetch{SessionID: hdr.SessionID, Policy: s.e.policy != nil && s.req.Message.Final,
		TenantID: s.e.tenantHint(s.req.DeviceID)})
	dev, err := s.tx.Device()
	if errors.Is(err, store.ErrNotFound) {
		return nil, &Refusal{Code: syncml.StatusForbidden, Reason: "device is not enrolled"}
	}
	if err != nil {
		return nil, fmt.Errorf("loading device: %w", err)
	}
	if dev.State != store.DeviceEnrolled {
		return nil, &Refusal{Code: syncml.StatusForbidden, Reason: "device is " + dev.State}
	}
	if !strings.EqualFold(dev.CertSerial, s.req.CertSerial) {
		return nil, &Refusal{Code: syncml.StatusInvalidCredentials, Reason: "certificate is not the device's current certificate (revoked or replaced)"}
	}
	s.dev = dev
	if err := s.loadSession(); err != nil {
		return nil, err
	}
	serverMsgID := strconv.Itoa(s.sess.ServerMsgID + 1)
	s.b = syncml.NewBytesBuilder(syncml.ReplyHeader(hdr, serverMsgID), 1)
	s.b.StatusSyncHdr(hdr.MsgID, syncml.StatusOK, nil)

	for i := range s.req.Message.Body {
		if err := s.clientCommand(&s.req.Message.Body[i]); err != nil {
			return nil, err
		}
	}
	s.recordPushReads()

	sent := map[string]store.SentRef{}
	final, err := s.conclude(serverMsgID, sent)
	if err != nil {
		return nil, err
	}
	reply, err := s.b.Bytes(final)
	if err != nil {
		return nil, fmt.Errorf("building reply: %w", err)
	}
	if err := s.persist(reply, sent); err != nil {
		return nil, err
	}
	return reply, nil
}

// loadSession finds the session the message belongs to, or opens a new one, and refuses a
// message that does not fit the session (s.sess; an *errReplay for a retransmission).
func (s *step) loadSession() error {
	hdr := s.req.Message.Header
	if err := store.CheckID("SessionID", hdr.SessionID); err != nil {
		// The store keys sessions by it: refused here, not with the store's error.
		return &Refusal{Code: syncml.StatusBadRequest, Reason: err.Error()}
	}
	sess, err := s.tx.Session(hdr.SessionID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if s.msgID != 1 {
			return &Refusal{Code: syncml.StatusBadRequest, Reason: fmt.Sprintf("unknown session %q continued at MsgID %d", hdr.SessionID, s.msgID)}
		}
		sess, s.started, s.unstored = newSession(s.dev.ID, hdr.SessionID, s.now), true, true
	case err != nil:
		return fmt.Errorf("loading session: %w", err)
	default:
		if s.retransmission(sess) {
			return &errReplay{reply: sess.LastReply}
		}
		if s.msgID == 1 {
			// A new session that reuses an old SessionID (Windows numbers sessions, some
			// builds send "0" every time, other clients reuse the previous reply's): start
			// afresh, even when the message is byte-identical to the old session's first.
			sess, s.started = newSession(s.dev.ID, hdr.SessionID, s.now), true
			break
		}
		if s.msgID != sess.ClientMsgID+1 {
			return &Refusal{Code: syncml.StatusBadRequest, Reason: fmt.Sprintf("MsgID %d out of order in session %q (last was %d)", s.msgID, hdr.SessionID, sess.ClientMsgID)}
		}
		if sess.Ended {
			return &Refusal{Code: syncml.StatusBadRequest, Reason: fmt.Sprintf("session %q has ended", hdr.SessionID)}
		}
	}
	s.sess = sess
	return nil
}

// conclude decides what the reply carries after the Statuses: a request for the client's
// next message, nothing more (the session ends), or the commands due now. It reports whether
// the reply is Final and fills sent with the commands it carries.
func (s *step) conclude(serverMsgID string, sent map[string]store.SentRef) (final bool, err error) {
	final = true
	switch {
	case !s.req.Message.Final:
		// The client's package continues in its next message: ask for it, send nothing new
		// and no Final (OMA-TS-DM_Protocol-V1_2_1 §6.2, docs/protocol.md B.10).
		s.b.Alert(syncml.AlertNextMessage)
		final = false
		// The client's package answers our last message and goes on in its next message, so
		// the Statuses of our commands may still come there (Atomic children after their
		// parent, for one): keep what our last message carried.
		maps.Copy(sent, s.sess.Sent)
	case s.abort || s.unenroll:
		s.sess.Ended = true
	default:
		if err := s.correctPinResetService(); err != nil {
			return false, err
		}
		if err := s.provisionPush(); err != nil {
			return false, err
		}
		if err := s.reconcile(); err != nil {
			return false, err
		}
		n, err := s.sendCommands(serverMsgID, sent)
		if err != nil {
			return false, err
		}
		if n == 0 {
			// The server's last message holds only Statuses and Final (docs/protocol.md B.11).
			s.sess.Ended = true
		}
	}
	return final, nil
}

// count reports a committed message's session start and end to the metrics.
func (s *step) count() {
	m := s.e.cfg.Sessions
	if m == nil {
		return
	}
	if s.started {
		m.SessionStarted()
	}
	switch {
	case !s.sess.Ended:
	case s.unenroll:
		m.SessionEnded(SessionUnenrolled)
	case s.abort:
		m.SessionEnded(SessionAborted)
	default:
		m.SessionEnded(SessionCompleted)
	}
}

// retransmission decides whether a client message repeats the last message of a session
// whose reply the client may not have received, and must be answered from the stored reply
// (nothing recorded twice), or is new work. The protocol gives no retransmission flag, so the
// rule uses what it does give (OMA-TS-DM_Protocol-V1_2_1 §6 multiple messages and §8
// packages; MS-MDM 2.2.1 session rules):
//
//   - The message must carry the session's last client MsgID, its bytes must hash to the
//     last message's, and a reply must be stored. Anything else is new work.
//   - MsgID 2 and later: a retransmission. A session begins only at MsgID 1, so the same
//     SessionID and MsgID past 1 cannot start a new one, whether or not the lost reply
//     closed the session.
//   - MsgID 1 is ambiguous: clients that reuse a SessionID ("0" on some Windows builds, the
//     previous reply's on others) start every session with MsgID 1, and with nothing to
//     report the first message of every session is byte-identical. It is a retransmission
//     only while the session is still open and young:
//     (a) open: the stored reply carried commands (the client owes their Statuses) or asked
//     for the next message of the client's package (Alert 1222). A reply of only Statuses
//     and Final left the client nothing to answer and ended the session (OMA-TS-DM_Protocol
//     §8, MS-MDM 2.2.1: the server's last package), so a MsgID 1 afterwards opens a new
//     session that gets every command queued since;
//     (b) young: it arrives within ClaimLease of the message it repeats. The stored reply's
//     commands are reserved to this session for that long; after it the claims have lapsed,
//     the client has given up on the session (Windows' own retry backoff,
//     INITIALBACKOFFTIME, is 30 s), and a MsgID 1 is a new session that sends them again.
func (s *step) retransmission(sess store.Session) bool {
	if s.msgID != sess.ClientMsgID || len(sess.LastReply) == 0 || sess.LastRequestHash != s.requestHash() {
		return false
	}
	if s.msgID > 1 {
		return true
	}
	return !sess.Ended && s.now.Sub(sess.UpdatedAt) < s.e.cfg.ClaimLease
}

// requestHash is the SHA-256 (hex) of the client message, taken once.
func (s *step) requestHash() string {
	if s.reqHash == "" {
		s.reqHash = bodyHash(s.req.Body)
	}
	return s.reqHash
}

func bodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// replayable reports whether this message's reply can ever be answered again from the
// store, by retransmission's rule: always past MsgID 1, and at MsgID 1 only while the
// session stays open. A session that ends at its first message (an idle check-in: Statuses
// and Final, or an abort or unenrollment) keeps neither the reply nor the request's hash;
// a repeat of that message opens a new session whether or not they are kept, and the
// session record stays a fraction of the size (the reply is most of it).
func (s *step) replayable() bool {
	return s.msgID > 1 || !s.sess.Ended
}

func (s *step) persist(reply []byte, sent map[string]store.SentRef) error {
	for id := range s.dirty {
		c := s.cmds[id]
		c.UpdatedAt = s.now
		if err := s.tx.PutCommand(*c); err != nil {
			return fmt.Errorf("saving command %s: %w", id, err)
		}
	}
	if s.devDirty || s.now.Sub(s.dev.LastSeenAt) > time.Minute {
		s.dev.LastSeenAt = s.now
		s.dev.UpdatedAt = s.now
		if err := s.tx.PutDevice(s.dev); err != nil {
			return fmt.Errorf("saving device: %w", err)
		}
	}
	s.sess.ClientMsgID = s.msgID
	s.sess.ServerMsgID++
	s.sess.Sent = sent
	s.sess.LastRequestHash, s.sess.LastReply = "", nil
	if s.replayable() {
		s.sess.LastRequestHash = s.requestHash()
		s.sess.LastReply = reply
	}
	s.sess.UpdatedAt = s.now
	if mm := s.req.Message.Header.Meta; mm != nil && mm.MaxMsgSize > 0 {
		s.sess.MaxMsgSize = mm.MaxMsgSize
	}
	if s.unstored && s.sess.Ended {
		// A session that ended at its first message, under a SessionID with no stored
		// record, is not stored: a record would keep no reply (replayable), and what
		// follows with its SessionID is decided the same without it (a MsgID 1 opens a new
		// session, a later MsgID is refused). An idle check-in so writes no session record,
		// nor evicts an old one.
		return s.auditEvents()
	}
	if err := s.tx.PutSession(s.sess); err != nil {
		return fmt.Errorf("saving session: %w", err)
	}
	return s.auditEvents()
}

// auditEvents appends the message's audit events in its transaction.
func (s *step) auditEvents() error {
	if len(s.events) > 0 {
		if err := s.tx.Audit(s.events...); err != nil {
			return fmt.Errorf("appending audit events: %w", err)
		}
	}
	return nil
}

// event makes an audit event about this device.
func (s *step) event(kind audit.Kind, subject audit.Subject, action string, details any) {
	raw, err := json.Marshal(details)
	if err != nil {
		raw = nil
	}
	s.events = append(s.events, &audit.Event{
		ID:       eventid.New(),
		Time:     s.now,
		TenantID: s.dev.TenantID,
		Kind:     kind,
		Actor:    audit.Actor{Type: audit.ActorDevice, ID: s.dev.ID, TokenID: s.req.CertSerial, SourceAddr: s.req.SourceAddr},
		Subject:  subject,
		DeviceID: s.dev.ID,
		Action:   action,
		Details:  raw,
	})
}
