-- Lost-factor recovery requests: a user has at most one pending (the
-- partial unique index), so a second request neither restarts nor
-- shortens the clock. Times are Unix microseconds (UTC), 0 for "never".
CREATE TABLE recovery_requests (
	id             TEXT PRIMARY KEY,
	user_id        TEXT NOT NULL REFERENCES users (id),
	status         TEXT NOT NULL,
	started_by     TEXT NOT NULL,
	reason         TEXT NOT NULL DEFAULT '',
	ip             TEXT NOT NULL DEFAULT '',
	created_at     INTEGER NOT NULL,
	completes_at   INTEGER NOT NULL,
	account_at     INTEGER NOT NULL,
	next_notice_at INTEGER NOT NULL DEFAULT 0,
	ended_at       INTEGER NOT NULL DEFAULT 0,
	ended_by       TEXT NOT NULL DEFAULT '',
	shorten_first  TEXT NOT NULL DEFAULT '',
	shorten_reason TEXT NOT NULL DEFAULT '',
	shortened_by   TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX recovery_requests_pending ON recovery_requests (user_id) WHERE status = 'pending';
CREATE INDEX recovery_requests_notice ON recovery_requests (status, next_notice_at);
-- A link token serves one purpose: a recovery's cancel link freezes
-- nothing, a freeze link cancels nothing.
ALTER TABLE freeze_links ADD COLUMN purpose TEXT NOT NULL DEFAULT 'freeze';
