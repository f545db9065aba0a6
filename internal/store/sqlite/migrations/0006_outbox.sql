-- The outbox: notices and signals written in the transaction of the change
-- that causes them, delivered at least once by the workers. Times are unix
-- microseconds; delivered_at is 0 until delivered.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    channel         TEXT NOT NULL,
    event           TEXT NOT NULL,
    user_id         TEXT NOT NULL DEFAULT '',
    destination     TEXT NOT NULL DEFAULT '',
    payload         BLOB NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER NOT NULL DEFAULT 0
);
-- What the workers claim: the pending messages by due time.
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_user ON outbox (user_id, created_at);
CREATE INDEX outbox_state ON outbox (state, created_at);
