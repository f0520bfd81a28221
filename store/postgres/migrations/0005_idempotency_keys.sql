-- hellomdm schema version 5: Idempotency-Key records of the admin API (store.IdempotencyKeys),
-- shared by all replicas. One row per principal scope and key; data is the record as JSON.
-- Expired rows are deleted in expires_at order as keys are reserved.

CREATE TABLE idempotency_keys (
	scope      bytea NOT NULL,
	key        bytea NOT NULL, -- any bytes: keys are what clients sent
	expires_at timestamptz NOT NULL,
	data       bytea NOT NULL,
	PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);
