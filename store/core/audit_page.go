package core

import (
	"context"
	"fmt"
	"slices"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/store/kv"
)

var _ audit.PageReader = auditReader{}

// AuditPage reads a page of the tenant's log newest first (audit.PageReader). The log is
// stored in ascending Seq, so it reads windows of auditPage sequence numbers backwards from
// before (or the head), each in its own read transaction with the same filter needles as an
// export, and stops when limit events matched, the budget of stored events is spent or the
// first stored event (after the retention anchor) was read. Pending events are sealed first,
// as for every read.
func (r auditReader) AuditPage(ctx context.Context, tenantID string, f audit.Filter, before uint64, limit, budget int) (audit.Page, error) {
	if err := f.Validate(); err != nil {
		return audit.Page{}, fmt.Errorf("reading audit events: %w", err)
	}
	if limit < 1 || budget < 1 {
		return audit.Page{}, fmt.Errorf("reading audit events: a page of %d events within %d", limit, budget)
	}
	if !findable(tenantID) {
		return audit.Page{}, nil
	}
	if err := r.s.sealBeforeRead(ctx, tenantID); err != nil {
		return audit.Page{}, fmt.Errorf("reading audit events: %w", err)
	}
	var head, anchor audit.Anchor
	err := r.s.view(ctx, func(tx kv.Tx) error {
		var err error
		if head, err = readAnchor(tx.Get(bAuditHead, []byte(tenantID))); err != nil {
			return err
		}
		anchor, err = readAnchor(tx.Get(bAuditAnchor, []byte(tenantID)))
		return err
	})
	if err != nil {
		return audit.Page{}, fmt.Errorf("reading audit head of tenant %s: %w", tenantID, err)
	}
	end := head.Seq // the newest Seq still to read
	if before != 0 && before-1 < end {
		end = before - 1
	}
	var (
		page   audit.Page
		arena  eventArena
		filter = newEventFilter(f)
	)
	for end > anchor.Seq && page.Scanned < budget {
		start := max(anchor.Seq+1, end-min(end, auditPage-1))
		p := r.s.readAuditPage(ctx, tenantID, start, filter, &arena, nil)
		if p.err != nil {
			return audit.Page{}, p.err
		}
		page.Scanned += int(end - start + 1)
		for i := len(p.events) - 1; i >= 0; i-- {
			e := p.events[i]
			if e.Seq > end || e.TenantID != tenantID {
				continue
			}
			if len(page.Events) == limit {
				page.Next = page.Events[limit-1].Seq
				return page, nil
			}
			page.Events = append(page.Events, e)
		}
		end = start - 1
	}
	if end > anchor.Seq {
		page.Next = end + 1
	}
	page.Events = slices.Clip(page.Events)
	return page, nil
}
