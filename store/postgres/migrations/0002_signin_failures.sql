-- hellomdm schema version 2: failed sign-in windows shared by all replicas (store.SignInLimits).
-- One row per key with an open (or not yet pruned) window; expired rows are deleted in
-- window_end order as failures are recorded.

CREATE TABLE signin_failures (
	key        bytea PRIMARY KEY, -- any bytes: keys are what clients typed
	window_end timestamptz NOT NULL,
	count      integer NOT NULL
);
CREATE INDEX signin_failures_end ON signin_failures (window_end);
