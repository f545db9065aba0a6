ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '';

CREATE TABLE factors (
	id            TEXT PRIMARY KEY,
	user_id       TEXT NOT NULL REFERENCES users (id),
	kind          TEXT NOT NULL,
	name          TEXT NOT NULL DEFAULT '',
	status        TEXT NOT NULL,
	secret        BLOB,
	last_step     INTEGER NOT NULL DEFAULT 0,
	credential_id BLOB UNIQUE,
	public_key    TEXT NOT NULL DEFAULT '',
	phone         TEXT NOT NULL DEFAULT '',
	device_bound  INTEGER NOT NULL DEFAULT 0,
	data          BLOB,
	flag          TEXT NOT NULL DEFAULT '',
	created_at    INTEGER NOT NULL,
	confirmed_at  INTEGER NOT NULL DEFAULT 0,
	last_used_at  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX factors_user ON factors (user_id);

CREATE TABLE recovery_codes (
	user_id TEXT NOT NULL REFERENCES users (id),
	idx     INTEGER NOT NULL,
	hash    BLOB NOT NULL,
	used_at INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (user_id, idx)
);

CREATE TABLE login_flows (
	id          TEXT PRIMARY KEY,
	user_id     TEXT NOT NULL REFERENCES users (id),
	interface   TEXT NOT NULL,
	binding     TEXT NOT NULL,
	ip          TEXT NOT NULL DEFAULT '',
	user_agent  TEXT NOT NULL DEFAULT '',
	device_name TEXT NOT NULL DEFAULT '',
	device_id   TEXT NOT NULL DEFAULT '',
	new_device  INTEGER NOT NULL DEFAULT 0,
	state       TEXT NOT NULL,
	aal         INTEGER NOT NULL,
	amr         TEXT NOT NULL DEFAULT '',
	challenge   BLOB,
	attempts    INTEGER NOT NULL DEFAULT 0,
	version     INTEGER NOT NULL DEFAULT 0,
	session_id  TEXT NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL
);
CREATE INDEX login_flows_expiry ON login_flows (expires_at);

CREATE TABLE push_requests (
	id          TEXT PRIMARY KEY,
	user_id     TEXT NOT NULL REFERENCES users (id),
	flow_id     TEXT NOT NULL DEFAULT '',
	purpose     TEXT NOT NULL,
	device_id   TEXT NOT NULL DEFAULT '',
	number      INTEGER NOT NULL,
	interface   TEXT NOT NULL DEFAULT '',
	ip          TEXT NOT NULL DEFAULT '',
	device_name TEXT NOT NULL DEFAULT '',
	outcome     TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	answered_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX push_requests_user ON push_requests (user_id, created_at);

CREATE TABLE push_enrolments (
	code_hash  BLOB PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id),
	expires_at INTEGER NOT NULL,
	used_at    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE device_approvals (
	token_hash BLOB PRIMARY KEY,
	device_id  TEXT NOT NULL,
	user_id    TEXT NOT NULL REFERENCES users (id),
	expires_at INTEGER NOT NULL,
	used_at    INTEGER NOT NULL DEFAULT 0
);
