package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/store"
)

// DefaultAuditRetentionInterval is how often the retention loop runs when
// Options.AuditRetentionInterval is zero.
const DefaultAuditRetentionInterval = time.Hour

// retentionActor is who audit.retention events name.
var retentionActor = audit.Actor{Type: audit.ActorSystem, ID: "audit-retention"}

// RetainAudit runs one retention pass: for every tenant it drops the whole audit segments
// whose events are all older than before, recording each drop as an audit.retention event in
// the same transaction (audit.Log.Retain over the store's audit.Retainer). It goes on after a
// tenant fails and returns the errors joined.
func RetainAudit(ctx context.Context, st store.Store, lg *audit.Log, before time.Time) error {
	tenants, err := st.ListTenants(ctx)
	if err != nil {
		return fmt.Errorf("listing tenants for audit retention: %w", err)
	}
	var errs []error
	for _, t := range tenants {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := lg.Retain(ctx, st, t.ID, before, retentionActor); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", t.ID, err))
		}
	}
	return errors.Join(errs...)
}

// retentionLoop runs RetainAudit every interval, from Serve until Shutdown.
type retentionLoop struct {
	st    store.Store
	lg    *audit.Log
	age   time.Duration
	every time.Duration
	now   func() time.Time
	log   *slog.Logger

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// newRetentionLoop returns nil when age is zero (keep forever).
func newRetentionLoop(st store.Store, age, every time.Duration, now func() time.Time, logger *slog.Logger) (*retentionLoop, error) {
	if age < 0 || every < 0 {
		return nil, errors.New("audit retention and its interval must not be negative")
	}
	if age == 0 {
		return nil, nil
	}
	if every == 0 {
		every = DefaultAuditRetentionInterval
	}
	lg, err := audit.New(st, audit.WithClock(now))
	if err != nil {
		return nil, fmt.Errorf("creating audit log: %w", err)
	}
	return &retentionLoop{st: st, lg: lg, age: age, every: every, now: now, log: logger.With("component", "audit-retention")}, nil
}

// start runs a pass now and then every interval, until stop (idempotent; nil-safe).
func (l *retentionLoop) start() {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel, l.done = cancel, make(chan struct{})
	go func() {
		defer close(l.done)
		t := time.NewTicker(l.every)
		defer t.Stop()
		for {
			l.pass(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

func (l *retentionLoop) pass(ctx context.Context) {
	before := l.now().Add(-l.age)
	if err := RetainAudit(ctx, l.st, l.lg, before); err != nil && ctx.Err() == nil {
		l.log.Error("audit retention pass failed", "before", before, "err", err)
	}
}

// stop ends the loop and waits for a running pass to finish (nil-safe).
func (l *retentionLoop) stop() {
	if l == nil {
		return
	}
	l.mu.Lock()
	cancel, done := l.cancel, l.done
	l.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}
