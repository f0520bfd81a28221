-- hellomdm schema version 4: single-use credentials already used (store.Redemptions), shared
-- by all replicas. One row per redeemed ID until its expiry; expired rows are deleted in
-- expiry order as new ones are recorded.

CREATE TABLE redemptions (
	id         bytea PRIMARY KEY,
	holder     text NOT NULL,
	expires_at timestamptz NOT NULL
);
CREATE INDEX redemptions_expiry ON redemptions (expires_at);
