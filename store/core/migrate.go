package core

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// Format versions of a database, kept in bMeta under "schema" (8 bytes, big-endian).
//
//   - 1: the previous release. A bbolt file of that release already has this layout (the
//     buckets and keys of keys.go, JSON records); it has no meta record. A PostgreSQL database
//     of that release keeps its data in the tables of its schema version 5 (tenants, users,
//     devices, commands, …), which migrateLegacyV1 copies into the buckets.
//   - 2: the store core's buckets on every backend.
//   - 3: the device index (deviceindex.go) and the setting trouble counts (troubles.go),
//     written for every device and setting state by the migration.
//   - 4: session records may be binary (sessionrecord.go), which a release of version 3
//     would not read; nothing is rewritten, as version 4 reads the JSON sessions of the
//     versions before.
//   - 5: the device index lists the enrolled devices holding a WNS channel
//     ('w' entries, deviceindex.go), written for them by the migration.
//   - 6: the profile status index (profilestatus.go), written for every setting state by
//     the migration.
//   - 7: the role holder index (roleholders.go), written for every user holding an admin
//     role by the migration.
//   - 8: audit chain and pending records may hold several events (batch records,
//     auditbatch.go), which a release of version 7 would not read; nothing is rewritten, as
//     version 8 reads the one-event records of the versions before.
//   - 9: the group name index (groupnames.go), written for every group by the migration.
//   - 10: this release: member entries hold a mark and every group has a member count
//     (groupmembers.go), both written by the migration.
//
// A database stamped with a later version than FormatVersion was written by a newer release
// and is refused rather than misread.
const FormatVersion = 10

// metaSchema is the key of the format version in bMeta.
var metaSchema = []byte("schema")

// LegacyTx is implemented by the transactions of a backend whose databases may hold the
// previous release's data in a layout of their own (the PostgreSQL backend: the tables of its
// schema version 5). It reads rows generically; the store core alone knows what they mean
// (migrate_v1.go), so no backend carries record or key layouts.
type LegacyTx interface {
	// LegacyTables lists the previous release's tables present in the database.
	LegacyTables() ([]string, error)
	// LegacyRows calls fn for each row of table, its columns by name (text as string, bytea as
	// []byte, timestamptz as time.Time, integers as int64, booleans as bool, arrays as []any).
	// fn may write through the transaction.
	LegacyRows(table string, fn func(row map[string]any) error) error
	// DropLegacyTables removes the previous release's tables (in the transaction).
	DropLegacyTables() error
}

// metaMigrating is a key a migration holds while it runs: servers starting together on one
// database insert it first, so the second waits for the first's commit (PostgreSQL's unique
// key) and then finds the database migrated. It is deleted in the same transaction, so it
// never outlives a migration, finished or not.
var metaMigrating = []byte("migrating")

// migrate brings the database to FormatVersion in one write transaction: an interrupted
// migration leaves the database as it was, and the next start runs it again.
func (s *Store) migrate(ctx context.Context) error {
	var err error
	for range 3 {
		if err = s.update(ctx, s.migrateTx); !errors.Is(err, store.ErrExists) {
			return err
		}
	}
	return err
}

func (s *Store) migrateTx(w *wtx) error {
	if err := w.Insert(bMeta, metaMigrating, nil); err != nil {
		return err
	}
	if err := s.migrateLocked(w); err != nil {
		return err
	}
	return w.Delete(bMeta, metaMigrating)
}

func (s *Store) migrateLocked(w *wtx) error {
	v, err := w.Get(bMeta, metaSchema)
	if err != nil {
		return err
	}
	version := uint64(1)
	switch {
	case v == nil:
	case len(v) != 8:
		return fmt.Errorf("reading the format version: %d-byte record", len(v))
	default:
		version = binary.BigEndian.Uint64(v)
	}
	switch {
	case version == FormatVersion:
		return nil
	case version > FormatVersion:
		return fmt.Errorf("the database has format version %d, written by a newer release than this one (%d): upgrade hellomdm", version, FormatVersion)
	}
	if lt, ok := w.Tx.(LegacyTx); ok && version < 2 {
		if err := s.migrateLegacyV1(w, lt); err != nil {
			return fmt.Errorf("migrating the previous release's tables: %w", err)
		}
	}
	if version < 3 {
		if err := reindexDevices(w); err != nil {
			return fmt.Errorf("indexing the devices: %w", err)
		}
		if err := recountTroubles(w); err != nil {
			return fmt.Errorf("counting setting troubles: %w", err)
		}
	}
	if version < 5 {
		if err := indexWNSChannels(w); err != nil {
			return fmt.Errorf("indexing the devices' WNS channels: %w", err)
		}
	}
	if version < 6 {
		if err := buildProfileStatus(w); err != nil {
			return fmt.Errorf("indexing profile status: %w", err)
		}
	}
	if version < 7 {
		if err := buildRoleHolders(w); err != nil {
			return fmt.Errorf("indexing the admin role holders: %w", err)
		}
	}
	if version < 9 {
		if err := buildGroupNames(w); err != nil {
			return fmt.Errorf("indexing the group names: %w", err)
		}
	}
	if version < 10 {
		if err := buildMemberCounts(w); err != nil {
			return fmt.Errorf("counting group members: %w", err)
		}
	}
	s.log.Info("database migrated", "from", version, "to", FormatVersion, "backend", s.kv.Name())
	return w.Put(bMeta, metaSchema, binary.BigEndian.AppendUint64(nil, FormatVersion))
}

// errLegacyRow reports a row of the previous release that cannot be read.
var errLegacyRow = errors.New("unreadable row")

// insertLegacy writes one record the migration copies. It refuses to overwrite, so a legacy row never
// silently replaces a record the store already holds.
func insertLegacy(w *wtx, b kv.Bucket, key, value []byte) error {
	if err := w.Insert(b, key, value); err != nil {
		return fmt.Errorf("copying into %s: %w", b, err)
	}
	return nil
}
