-- Transaction-bound approvals: the canonical details the owner is shown
-- and their SHA-256 (hex), the WebAuthn nonce, the decision and the
-- factor that gave it. The row is also the single-use record of the
-- approval's tokens (status 'approved' -> 'used' once, under the row
-- lock, so two instances cannot both accept one token).
-- '0001-01-01' stands for "never", as elsewhere.
CREATE TABLE approvals (
	id           text COLLATE "C" PRIMARY KEY,
	user_id      text COLLATE "C" NOT NULL REFERENCES users (id),
	account_id   text COLLATE "C" NOT NULL,
	kind         text NOT NULL,
	details      bytea NOT NULL,
	hash         text NOT NULL,
	nonce        bytea NOT NULL,
	requested_by text NOT NULL,
	status       text NOT NULL,
	created_at   timestamptz NOT NULL,
	expires_at   timestamptz NOT NULL,
	decided_at   timestamptz NOT NULL DEFAULT '0001-01-01 00:00:00+00',
	factor_id    text NOT NULL DEFAULT '',
	factor_kind  text NOT NULL DEFAULT '',
	aal          integer NOT NULL DEFAULT 0,
	used_at      timestamptz NOT NULL DEFAULT '0001-01-01 00:00:00+00'
);
CREATE INDEX approvals_user_status ON approvals (user_id, status, expires_at);
CREATE INDEX approvals_created ON approvals (created_at);
