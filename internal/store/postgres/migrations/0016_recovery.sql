-- Lost-factor recovery requests: a user has at most one pending (the
-- partial unique index), so a second request neither restarts nor
-- shortens the clock. '0001-01-01' stands for "never", as elsewhere.
CREATE TABLE recovery_requests (
	id             text COLLATE "C" PRIMARY KEY,
	user_id        text COLLATE "C" NOT NULL REFERENCES users (id),
	status         text NOT NULL,
	started_by     text NOT NULL,
	reason         text NOT NULL DEFAULT '',
	ip             text NOT NULL DEFAULT '',
	created_at     timestamptz NOT NULL,
	completes_at   timestamptz NOT NULL,
	account_at     timestamptz NOT NULL,
	next_notice_at timestamptz NOT NULL DEFAULT '0001-01-01 00:00:00+00',
	ended_at       timestamptz NOT NULL DEFAULT '0001-01-01 00:00:00+00',
	ended_by       text NOT NULL DEFAULT '',
	shorten_first  text NOT NULL DEFAULT '',
	shorten_reason text NOT NULL DEFAULT '',
	shortened_by   text NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX recovery_requests_pending ON recovery_requests (user_id) WHERE status = 'pending';
CREATE INDEX recovery_requests_notice ON recovery_requests (status, next_notice_at);
-- A link token serves one purpose: a recovery's cancel link freezes
-- nothing, a freeze link cancels nothing.
ALTER TABLE freeze_links ADD COLUMN purpose text NOT NULL DEFAULT 'freeze';
