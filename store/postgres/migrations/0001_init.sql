-- hellomdm schema version 1. Records are JSON in bytea (not jsonb: byte-exact, and NUL-safe);
-- the columns beside them are what queries select, order and lock on. Keys use the "C"
-- collation so listings sort by bytes, as in the bbolt backend.

CREATE TABLE tenants (
	id   text COLLATE "C" PRIMARY KEY,
	data bytea NOT NULL
);

CREATE TABLE tenant_domains (
	domain    text COLLATE "C" PRIMARY KEY, -- lower-case
	tenant_id text COLLATE "C" NOT NULL
);
CREATE INDEX tenant_domains_tenant ON tenant_domains (tenant_id);

CREATE TABLE users (
	tenant_id text COLLATE "C" NOT NULL,
	id        text COLLATE "C" NOT NULL,
	upn_lower text COLLATE "C" NOT NULL,
	data      bytea NOT NULL,
	PRIMARY KEY (tenant_id, id),
	UNIQUE (tenant_id, upn_lower)
);

-- next_seq is the last command Seq assigned on the device; bumping it locks the row, which
-- also serialises enqueues with the device's check-ins.
CREATE TABLE devices (
	id        text COLLATE "C" PRIMARY KEY,
	tenant_id text COLLATE "C" NOT NULL,
	next_seq  bigint NOT NULL DEFAULT 0,
	data      bytea NOT NULL
);
CREATE INDEX devices_tenant ON devices (tenant_id, id);

CREATE TABLE revoked (
	serial     text COLLATE "C" PRIMARY KEY, -- upper-case hex
	device_id  text COLLATE "C" NOT NULL,
	revoked_at timestamptz NOT NULL
);

CREATE TABLE commands (
	device_id text COLLATE "C" NOT NULL,
	seq       bigint NOT NULL,
	id        text COLLATE "C" NOT NULL,
	is_open   boolean NOT NULL,
	data      bytea NOT NULL,
	PRIMARY KEY (device_id, seq),
	UNIQUE (device_id, id)
);
-- HasPending and Open read only this small index.
CREATE INDEX commands_open ON commands (device_id, seq) WHERE is_open;

CREATE TABLE sessions (
	device_id  text COLLATE "C" NOT NULL,
	session_id text COLLATE "C" NOT NULL,
	stamp      timestamptz NOT NULL,
	data       bytea NOT NULL,
	PRIMARY KEY (device_id, session_id)
);

-- One row per tenant chain; appends lock it, so a chain stays linear across replicas.
CREATE TABLE audit_heads (
	tenant_id text COLLATE "C" PRIMARY KEY,
	seq       bigint NOT NULL,
	hash      text NOT NULL
);

CREATE TABLE audit_anchors (
	tenant_id text COLLATE "C" PRIMARY KEY,
	seq       bigint NOT NULL,
	hash      text NOT NULL
);

-- event is the sealed event's JSON, byte for byte; the other columns serve filters and
-- retention (NUL bytes removed from the text ones).
CREATE TABLE audit_events (
	tenant_id  text COLLATE "C" NOT NULL,
	seq        bigint NOT NULL,
	time       timestamptz NOT NULL,
	kind       text COLLATE "C" NOT NULL,
	device_id  text COLLATE "C" NOT NULL,
	profile_id text COLLATE "C" NOT NULL,
	actor_id   text COLLATE "C" NOT NULL,
	event      bytea NOT NULL,
	PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_events_device ON audit_events (tenant_id, device_id, seq) WHERE device_id <> '';

CREATE TABLE tokens (
	id   text COLLATE "C" PRIMARY KEY,
	hash text COLLATE "C" NOT NULL UNIQUE,
	data bytea NOT NULL
);

-- Values of secret keys are AES-256-GCM sealed (sealed = true).
CREATE TABLE config (
	key    text COLLATE "C" PRIMARY KEY,
	sealed boolean NOT NULL,
	value  bytea NOT NULL
);

CREATE TABLE policy_versions (
	tenant_id text COLLATE "C" PRIMARY KEY,
	version   bigint NOT NULL
);

CREATE TABLE policy_groups (
	tenant_id text COLLATE "C" NOT NULL,
	id        text COLLATE "C" NOT NULL,
	data      bytea NOT NULL,
	PRIMARY KEY (tenant_id, id)
);

CREATE TABLE policy_members (
	tenant_id text COLLATE "C" NOT NULL,
	group_id  text COLLATE "C" NOT NULL,
	kind      text COLLATE "C" NOT NULL,
	member_id text COLLATE "C" NOT NULL,
	PRIMARY KEY (tenant_id, group_id, kind, member_id)
);
CREATE INDEX policy_members_member ON policy_members (tenant_id, kind, member_id);

CREATE TABLE policy_profiles (
	tenant_id text COLLATE "C" NOT NULL,
	id        text COLLATE "C" NOT NULL,
	data      bytea NOT NULL,
	PRIMARY KEY (tenant_id, id)
);

-- A profile's assignments as one JSON list; groups holds the group IDs it names, so
-- DeleteGroup can find assignments that target a group.
CREATE TABLE policy_assignments (
	tenant_id  text COLLATE "C" NOT NULL,
	profile_id text COLLATE "C" NOT NULL,
	groups     text[] COLLATE "C" NOT NULL,
	data       bytea NOT NULL,
	PRIMARY KEY (tenant_id, profile_id)
);

CREATE TABLE setting_states (
	tenant_id text COLLATE "C" NOT NULL,
	device_id text COLLATE "C" NOT NULL,
	loc_uri   text COLLATE "C" NOT NULL,
	data      bytea NOT NULL,
	PRIMARY KEY (tenant_id, device_id, loc_uri)
);

CREATE TABLE device_policies (
	device_id text COLLATE "C" PRIMARY KEY,
	data      bytea NOT NULL
);
