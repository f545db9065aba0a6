-- Shared Signals: what receivers changed of the streams the operator
-- configured (events requested as a JSON array, description, status), and
-- the Security Event Tokens a stream holds: until acknowledged on a poll
-- stream, while paused on a push stream. Claims are unsigned JSON; they are
-- signed when sent. Times are Unix microseconds (UTC), 0 for "never".
CREATE TABLE ssf_streams (
	id               TEXT PRIMARY KEY,
	events_requested TEXT NOT NULL,
	description      TEXT NOT NULL DEFAULT '',
	status           TEXT NOT NULL,
	reason           TEXT NOT NULL DEFAULT '',
	verified_at      INTEGER NOT NULL DEFAULT 0,
	updated_at       INTEGER NOT NULL
);

CREATE TABLE ssf_held (
	stream_id  TEXT NOT NULL,
	jti        TEXT NOT NULL,
	event      TEXT NOT NULL,
	claims     BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (stream_id, jti)
);
CREATE INDEX ssf_held_order ON ssf_held (stream_id, created_at, jti);
