-- Shared Signals: what receivers changed of the streams the operator
-- configured (events requested, description, status), and the Security
-- Event Tokens a stream holds: until acknowledged on a poll stream, while
-- paused on a push stream. Claims are unsigned JSON; they are signed when
-- sent. verified_at is 0001-01-01 for "never".
CREATE TABLE ssf_streams (
	id               text COLLATE "C" PRIMARY KEY,
	events_requested jsonb NOT NULL,
	description      text NOT NULL DEFAULT '',
	status           text NOT NULL,
	reason           text NOT NULL DEFAULT '',
	verified_at      timestamptz NOT NULL,
	updated_at       timestamptz NOT NULL
);

CREATE TABLE ssf_held (
	stream_id  text COLLATE "C" NOT NULL,
	jti        text COLLATE "C" NOT NULL,
	event      text NOT NULL,
	claims     bytea NOT NULL,
	created_at timestamptz NOT NULL,
	PRIMARY KEY (stream_id, jti)
);
CREATE INDEX ssf_held_order ON ssf_held (stream_id, created_at, jti);
