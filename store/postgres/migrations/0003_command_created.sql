-- hellomdm schema version 3: when each command was queued, as a column, so the queue's depth
-- and its oldest open command are read from two partial indexes (store.QueueStats, the
-- /metrics gauges) without decoding commands or touching closed ones.

ALTER TABLE commands ADD COLUMN created_at timestamptz;
UPDATE commands SET created_at = (convert_from(data, 'UTF8')::jsonb ->> 'createdAt')::timestamptz;
ALTER TABLE commands ALTER COLUMN created_at SET NOT NULL;
CREATE INDEX commands_open_created ON commands (created_at) WHERE is_open;
