package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/hellomdm/hellomdm/store"
)

// normDomains lower-cases and trims domains, drops duplicates and checks each.
func normDomains(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, dom := range in {
		dom = strings.ToLower(strings.TrimSpace(dom))
		if err := checkID("domain", dom); err != nil {
			return nil, err
		}
		if !slices.Contains(out, dom) {
			out = append(out, dom)
		}
	}
	return out, nil
}

// claimDomains indexes domains for tenantID; ErrExists when one belongs to another tenant.
func claimDomains(ctx context.Context, tx pgx.Tx, tenantID string, domains []string) error {
	if len(domains) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `INSERT INTO tenant_domains (domain, tenant_id) SELECT unnest($1::text[]), $2
		ON CONFLICT (domain) DO NOTHING RETURNING domain`, domains, tenantID)
	if err != nil {
		return err
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, dom := range domains {
		if !slices.Contains(got, dom) {
			return fmt.Errorf("domain %s: %w", dom, store.ErrExists)
		}
	}
	return nil
}

// CreateTenant stores a new tenant with its verified domains indexed lower-case; ErrExists
// when the ID or a domain is taken. CreatedAt and UpdatedAt default to now. The events of
// ctx's store.AuditFunc are appended in the transaction.
func (d *DB) CreateTenant(ctx context.Context, t store.Tenant) error {
	if err := checkID("tenant id", t.ID); err != nil {
		return fmt.Errorf("creating tenant: %w", err)
	}
	domains, err := normDomains(t.VerifiedDomains)
	if err != nil {
		return fmt.Errorf("creating tenant: %w", err)
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = d.now()
	}
	if t.UpdatedAt.IsZero() {
		t.UpdatedAt = t.CreatedAt
	}
	raw, err := encode(&t)
	if err != nil {
		return fmt.Errorf("creating tenant: %w", err)
	}
	var sealed []sealedEvent
	err = d.tx(ctx, txOptions{}, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO tenants (id, data) VALUES ($1, $2) ON CONFLICT DO NOTHING`, t.ID, raw)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("tenant %s: %w", t.ID, store.ErrExists)
		}
		if err := claimDomains(ctx, tx, t.ID, domains); err != nil {
			return err
		}
		sealed, err = writeAuditTx(ctx, tx, t)
		return err
	})
	if err != nil {
		return fmt.Errorf("creating tenant: %w", err)
	}
	d.publish(sealed)
	return nil
}

// Tenant returns a tenant by ID.
func (d *DB) Tenant(ctx context.Context, id string) (store.Tenant, error) {
	var t store.Tenant
	err := d.getRecord(ctx, &t, `SELECT data FROM tenants WHERE id = $1`, id)
	if err != nil {
		return store.Tenant{}, fmt.Errorf("getting tenant %s: %w", id, err)
	}
	return t, nil
}

// TenantByDomain finds the tenant that verified domain (case-insensitive).
func (d *DB) TenantByDomain(ctx context.Context, domain string) (store.Tenant, error) {
	var t store.Tenant
	err := d.getRecord(ctx, &t, `SELECT t.data FROM tenant_domains d JOIN tenants t ON t.id = d.tenant_id
		WHERE d.domain = $1`, strings.ToLower(strings.TrimSpace(domain)))
	if err != nil {
		return store.Tenant{}, fmt.Errorf("getting tenant by domain %s: %w", domain, err)
	}
	return t, nil
}

// UpdateTenant applies fn to the stored tenant (locked) and writes it back, re-indexing its
// domains (ErrExists when one belongs to another tenant) and setting UpdatedAt. fn runs once
// and must not change the ID (ErrConflict). The events of ctx's store.AuditFunc are appended
// in the transaction.
func (d *DB) UpdateTenant(ctx context.Context, id string, fn func(*store.Tenant) error) error {
	var sealed []sealedEvent
	err := d.tx(ctx, txOptions{}, func(tx pgx.Tx) error {
		var t store.Tenant
		if err := getRecord(ctx, tx, &t, `SELECT data FROM tenants WHERE id = $1 FOR UPDATE`, id); err != nil {
			return err
		}
		if err := fn(&t); err != nil {
			return err
		}
		if t.ID != id {
			return fmt.Errorf("changing tenant id to %s: %w", t.ID, store.ErrConflict)
		}
		domains, err := normDomains(t.VerifiedDomains)
		if err != nil {
			return err
		}
		t.UpdatedAt = d.now()
		raw, err := encode(&t)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM tenant_domains WHERE tenant_id = $1`, id); err != nil {
			return err
		}
		if err := claimDomains(ctx, tx, id, domains); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE tenants SET data = $2 WHERE id = $1`, id, raw); err != nil {
			return err
		}
		sealed, err = writeAuditTx(ctx, tx, t)
		return err
	})
	if err != nil {
		return fmt.Errorf("updating tenant %s: %w", id, err)
	}
	d.publish(sealed)
	return nil
}

// ListTenants returns every tenant in ID order.
func (d *DB) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	out, err := listRecords[store.Tenant](ctx, d, `SELECT data FROM tenants ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("listing tenants: %w", err)
	}
	return out, nil
}

func checkUser(u store.User) error {
	if err := checkID("tenant id", u.TenantID); err != nil {
		return err
	}
	if err := checkID("user id", u.ID); err != nil {
		return err
	}
	return checkID("user principal name", u.UPN)
}

// CreateUser stores a new user; ErrExists when the ID or the UPN (case-insensitive) is taken
// in that tenant. CreatedAt defaults to now. The tenant is not required to exist. The events
// of ctx's store.AuditFunc are appended in the transaction.
func (d *DB) CreateUser(ctx context.Context, u store.User) error {
	if err := checkUser(u); err != nil {
		return fmt.Errorf("creating user: %w", err)
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = d.now()
	}
	raw, err := encode(&u)
	if err != nil {
		return fmt.Errorf("creating user: %w", err)
	}
	var sealed []sealedEvent
	err = d.tx(ctx, txOptions{}, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO users (tenant_id, id, upn_lower, data) VALUES ($1, $2, $3, $4)
			ON CONFLICT DO NOTHING`, u.TenantID, u.ID, strings.ToLower(u.UPN), raw)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("user %s or user principal name %s: %w", u.ID, u.UPN, store.ErrExists)
		}
		sealed, err = writeAuditTx(ctx, tx, u)
		return err
	})
	if err != nil {
		return fmt.Errorf("creating user: %w", err)
	}
	d.publish(sealed)
	return nil
}

// User returns a user by tenant and ID.
func (d *DB) User(ctx context.Context, tenantID, id string) (store.User, error) {
	var u store.User
	if err := d.getRecord(ctx, &u, `SELECT data FROM users WHERE tenant_id = $1 AND id = $2`, tenantID, id); err != nil {
		return store.User{}, fmt.Errorf("getting user %s: %w", id, err)
	}
	return u, nil
}

// UserByUPN finds a user by UPN (case-insensitive) within a tenant.
func (d *DB) UserByUPN(ctx context.Context, tenantID, upn string) (store.User, error) {
	var u store.User
	err := d.getRecord(ctx, &u, `SELECT data FROM users WHERE tenant_id = $1 AND upn_lower = $2`, tenantID, strings.ToLower(upn))
	if err != nil {
		return store.User{}, fmt.Errorf("getting user by upn %s: %w", upn, err)
	}
	return u, nil
}

// UpdateUser applies fn to the stored user (locked) and writes it back; a UPN taken by
// another user gives ErrExists. fn runs once and must not change the tenant or ID
// (ErrConflict). The events of ctx's store.AuditFunc are appended in the transaction.
func (d *DB) UpdateUser(ctx context.Context, tenantID, id string, fn func(*store.User) error) error {
	var sealed []sealedEvent
	err := d.tx(ctx, txOptions{}, func(tx pgx.Tx) error {
		var u store.User
		err := getRecord(ctx, tx, &u, `SELECT data FROM users WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, id)
		if err != nil {
			return err
		}
		if err := fn(&u); err != nil {
			return err
		}
		if u.TenantID != tenantID || u.ID != id {
			return fmt.Errorf("changing user tenant or id: %w", store.ErrConflict)
		}
		if err := checkUser(u); err != nil {
			return err
		}
		raw, err := encode(&u)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE users SET upn_lower = $3, data = $4 WHERE tenant_id = $1 AND id = $2`,
			tenantID, id, strings.ToLower(u.UPN), raw)
		if err = mapErr(err); err != nil {
			return fmt.Errorf("user principal name %s: %w", u.UPN, err)
		}
		sealed, err = writeAuditTx(ctx, tx, u)
		return err
	})
	if err != nil {
		return fmt.Errorf("updating user %s: %w", id, err)
	}
	d.publish(sealed)
	return nil
}

// DeleteUser removes the user, its group memberships (bumping the tenant's policy version)
// and the failed sign-in window of its lower-cased UPN, in one transaction with the events
// of ctx's store.AuditFunc (given the user removed).
func (d *DB) DeleteUser(ctx context.Context, tenantID, id string) (store.User, error) {
	var u store.User
	err := d.policyWrite(ctx, tenantID, func(tx pgx.Tx) (any, error) {
		var raw []byte
		if err := tx.QueryRow(ctx, `DELETE FROM users WHERE tenant_id = $1 AND id = $2 RETURNING data`, tenantID, id).Scan(&raw); err != nil {
			return nil, fmt.Errorf("user %s: %w", id, notFound(err))
		}
		if err := decode(raw, &u); err != nil {
			return nil, err
		}
		b := &pgx.Batch{}
		b.Queue(`DELETE FROM policy_members WHERE tenant_id = $1 AND kind = $2 AND member_id = $3`, tenantID, store.MemberUser, id)
		b.Queue(`DELETE FROM signin_failures WHERE key = $1`, []byte(strings.ToLower(strings.TrimSpace(u.UPN))))
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return nil, err
		}
		return u, nil
	})
	if err != nil {
		return store.User{}, fmt.Errorf("deleting user %s: %w", id, err)
	}
	return u, nil
}

// ListUsers returns a tenant's users in ID order.
func (d *DB) ListUsers(ctx context.Context, tenantID string) ([]store.User, error) {
	out, err := listRecords[store.User](ctx, d, `SELECT data FROM users WHERE tenant_id = $1 ORDER BY id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("listing users of tenant %s: %w", tenantID, err)
	}
	return out, nil
}

// CreateToken stores an admin token; ErrExists when its ID or hash is taken. The hash is
// stored lower-case; CreatedAt defaults to now. The events of ctx's store.AuditFunc are
// appended in the transaction.
func (d *DB) CreateToken(ctx context.Context, t store.AdminToken) error {
	if err := checkID("token id", t.ID); err != nil {
		return fmt.Errorf("creating token: %w", err)
	}
	t.Hash = strings.ToLower(t.Hash)
	if err := checkID("token hash", t.Hash); err != nil {
		return fmt.Errorf("creating token: %w", err)
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = d.now()
	}
	raw, err := encode(&t)
	if err != nil {
		return fmt.Errorf("creating token: %w", err)
	}
	var sealed []sealedEvent
	err = d.tx(ctx, txOptions{}, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO tokens (id, hash, data) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, t.ID, t.Hash, raw)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("token %s or its hash: %w", t.ID, store.ErrExists)
		}
		sealed, err = writeAuditTx(ctx, tx, t)
		return err
	})
	if err != nil {
		return fmt.Errorf("creating token: %w", err)
	}
	d.publish(sealed)
	return nil
}

// TokenByHash finds a token by the SHA-256 hex of its secret (any case).
func (d *DB) TokenByHash(ctx context.Context, hash string) (store.AdminToken, error) {
	var t store.AdminToken
	if err := d.getRecord(ctx, &t, `SELECT data FROM tokens WHERE hash = $1`, strings.ToLower(hash)); err != nil {
		return store.AdminToken{}, fmt.Errorf("getting token by hash: %w", err)
	}
	return t, nil
}

// ListTokens returns every token in ID order.
func (d *DB) ListTokens(ctx context.Context) ([]store.AdminToken, error) {
	out, err := listRecords[store.AdminToken](ctx, d, `SELECT data FROM tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	return out, nil
}

// DeleteToken removes the token with that ID and returns it. The events of ctx's
// store.AuditFunc are appended in the transaction.
func (d *DB) DeleteToken(ctx context.Context, id string) (store.AdminToken, error) {
	if err := checkID("token id", id); err != nil {
		return store.AdminToken{}, fmt.Errorf("deleting token: %w", err)
	}
	var (
		t      store.AdminToken
		sealed []sealedEvent
	)
	err := d.tx(ctx, txOptions{}, func(tx pgx.Tx) error {
		var raw []byte
		if err := tx.QueryRow(ctx, `DELETE FROM tokens WHERE id = $1 RETURNING data`, id).Scan(&raw); err != nil {
			return fmt.Errorf("token %s: %w", id, notFound(err))
		}
		if err := decode(raw, &t); err != nil {
			return err
		}
		var err error
		sealed, err = writeAuditTx(ctx, tx, t)
		return err
	})
	if err != nil {
		return store.AdminToken{}, fmt.Errorf("deleting token: %w", err)
	}
	d.publish(sealed)
	return t, nil
}

// getRecord decodes the one-column row of query into v; store.ErrNotFound when absent.
func (d *DB) getRecord(ctx context.Context, v any, query string, args ...any) error {
	return d.withConn(ctx, func(c *pgx.Conn) error { return getRecord(ctx, c, v, query, args...) })
}

func getRecord(ctx context.Context, q querier, v any, query string, args ...any) error {
	var raw []byte
	if err := q.QueryRow(ctx, query, args...).Scan(&raw); err != nil {
		return notFound(err)
	}
	return decode(raw, v)
}

// listRecords decodes every one-column row of query.
func listRecords[T any](ctx context.Context, d *DB, query string, args ...any) ([]T, error) {
	var out []T
	err := d.withConn(ctx, func(c *pgx.Conn) error {
		var err error
		out, err = collectRecords[T](ctx, c, query, args...)
		return err
	})
	return out, err
}

func collectRecords[T any](ctx context.Context, q querier, query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) {
		var (
			raw []byte
			v   T
		)
		if err := row.Scan(&raw); err != nil {
			return v, err
		}
		return v, decode(raw, &v)
	})
}

// DeleteTenant removes a tenant and what belongs to it (see store.Tenants), refusing with
// ErrConflict while one of its devices is enrolled. The audit chain and the (retired) device
// records are kept. The events of ctx's store.AuditFunc (given the tenant removed) are
// appended to the tenant's chain in the transaction.
func (d *DB) DeleteTenant(ctx context.Context, id string) (store.Tenant, error) {
	var (
		t      store.Tenant
		sealed []sealedEvent
	)
	err := d.tx(ctx, txOptions{}, func(tx pgx.Tx) error {
		if err := getRecord(ctx, tx, &t, `SELECT data FROM tenants WHERE id = $1 FOR UPDATE`, id); err != nil {
			return err
		}
		// Hold off every device write (inserts of new enrollments included) until this
		// transaction ends, so that the count below is the truth at commit: an enrollment
		// that commits later finds the tenant gone (the server then retires it).
		if _, err := tx.Exec(ctx, `LOCK TABLE devices IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		devs, err := collectRecords[store.Device](ctx, tx, `SELECT data FROM devices WHERE tenant_id = $1 ORDER BY id`, id)
		if err != nil {
			return err
		}
		enrolled := 0
		for _, dev := range devs {
			if dev.State == store.DeviceEnrolled {
				enrolled++
			}
		}
		if enrolled > 0 {
			return fmt.Errorf("tenant has %d enrolled devices: %w", enrolled, store.ErrConflict)
		}
		toks, err := collectRecords[store.AdminToken](ctx, tx, `SELECT data FROM tokens ORDER BY id FOR UPDATE`)
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		for _, tok := range toks {
			if tok.TenantID == id {
				b.Queue(`DELETE FROM tokens WHERE id = $1`, tok.ID)
			}
		}
		for _, table := range []string{"tenant_domains", "users", "policy_members", "policy_assignments", "policy_groups",
			"policy_profiles", "setting_states", "policy_versions"} {
			b.Queue(`DELETE FROM `+table+` WHERE tenant_id = $1`, id)
		}
		b.Queue(`DELETE FROM config WHERE starts_with(key, $1)`, store.ConfigTenantPrefix(id))
		b.Queue(`DELETE FROM tenants WHERE id = $1`, id)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		sealed, err = writeAuditTx(ctx, tx, t)
		return err
	})
	if err != nil {
		return store.Tenant{}, fmt.Errorf("deleting tenant %s: %w", id, err)
	}
	d.publish(sealed)
	return t, nil
}
