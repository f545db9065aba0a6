-- The outbox: notices and signals written in the transaction of the change
-- that causes them, delivered at least once by the workers, which claim
-- due rows with FOR UPDATE SKIP LOCKED. delivered_at is 0001-01-01 until
-- delivered.
CREATE TABLE outbox (
	id              text COLLATE "C" PRIMARY KEY,
	channel         text NOT NULL,
	event           text NOT NULL,
	user_id         text COLLATE "C" NOT NULL DEFAULT '',
	destination     text NOT NULL DEFAULT '',
	payload         bytea NOT NULL,
	state           text NOT NULL DEFAULT 'pending',
	attempts        integer NOT NULL DEFAULT 0,
	next_attempt_at timestamptz NOT NULL,
	last_error      text NOT NULL DEFAULT '',
	created_at      timestamptz NOT NULL,
	delivered_at    timestamptz NOT NULL
);
-- What the workers claim: the pending messages by due time.
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_user ON outbox (user_id, created_at);
CREATE INDEX outbox_state ON outbox (state, created_at);
