-- Transaction-bound approvals: the canonical details the owner is shown
-- and their SHA-256 (hex), the WebAuthn nonce, the decision and the
-- factor that gave it. The row is also the single-use record of the
-- approval's tokens (status 'approved' -> 'used' once). Times are Unix
-- microseconds (UTC), 0 for "never".
CREATE TABLE approvals (
	id           TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL REFERENCES users (id),
	account_id   TEXT NOT NULL,
	kind         TEXT NOT NULL,
	details      BLOB NOT NULL,
	hash         TEXT NOT NULL,
	nonce        BLOB NOT NULL,
	requested_by TEXT NOT NULL,
	status       TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	decided_at   INTEGER NOT NULL DEFAULT 0,
	factor_id    TEXT NOT NULL DEFAULT '',
	factor_kind  TEXT NOT NULL DEFAULT '',
	aal          INTEGER NOT NULL DEFAULT 0,
	used_at      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX approvals_user_status ON approvals (user_id, status, expires_at);
CREATE INDEX approvals_created ON approvals (created_at);
