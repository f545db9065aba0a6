-- Times are Unix microseconds (UTC); a NULL ended_at means active.
CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	username      TEXT NOT NULL UNIQUE,
	email         TEXT NOT NULL,
	profile       TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL
);

CREATE TABLE accounts (
	id               TEXT PRIMARY KEY,
	name             TEXT NOT NULL,
	environment      TEXT NOT NULL CHECK (environment IN ('paper', 'live')),
	parent_id        TEXT REFERENCES accounts (id),
	entity_code      TEXT NOT NULL DEFAULT '',
	perm_options     INTEGER NOT NULL DEFAULT 0,
	perm_margin      INTEGER NOT NULL DEFAULT 0,
	perm_futures     INTEGER NOT NULL DEFAULT 0,
	perm_withdrawals INTEGER NOT NULL DEFAULT 0,
	created_at       INTEGER NOT NULL
);

CREATE TABLE memberships (
	user_id    TEXT NOT NULL REFERENCES users (id),
	account_id TEXT NOT NULL REFERENCES accounts (id),
	role       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (user_id, account_id)
);

CREATE TABLE sessions (
	id           TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL REFERENCES users (id),
	interface    TEXT NOT NULL,
	token_hash   BLOB NOT NULL UNIQUE,
	jkt          TEXT NOT NULL DEFAULT '',
	device_id    TEXT NOT NULL DEFAULT '',
	device_name  TEXT NOT NULL DEFAULT '',
	ip           TEXT NOT NULL DEFAULT '',
	user_agent   TEXT NOT NULL DEFAULT '',
	aal          INTEGER NOT NULL,
	auth_time    INTEGER NOT NULL,
	created_at   INTEGER NOT NULL,
	last_seen_at INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	idle_us      INTEGER NOT NULL,
	ended_at     INTEGER,
	end_reason   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id, created_at);
CREATE INDEX sessions_active ON sessions (ended_at, created_at);

CREATE TABLE devices (
	id           TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL REFERENCES users (id),
	interface    TEXT NOT NULL,
	fingerprint  TEXT NOT NULL,
	name         TEXT NOT NULL DEFAULT '',
	status       TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	last_seen_at INTEGER NOT NULL,
	UNIQUE (user_id, fingerprint)
);

CREATE TABLE audit (
	seq       INTEGER PRIMARY KEY,
	time      INTEGER NOT NULL,
	type      TEXT NOT NULL,
	user_id   TEXT NOT NULL DEFAULT '',
	actor     TEXT NOT NULL DEFAULT '',
	interface TEXT NOT NULL DEFAULT '',
	ip        TEXT NOT NULL DEFAULT '',
	detail    TEXT NOT NULL DEFAULT '{}',
	prev_hash BLOB,
	hash      BLOB NOT NULL
);
CREATE INDEX audit_user ON audit (user_id, seq);

CREATE TABLE throttles (
	key      TEXT PRIMARY KEY,
	failures INTEGER NOT NULL,
	next_at  INTEGER NOT NULL,
	last_at  INTEGER NOT NULL
);
