-- The tables of store/sqlite's 0001_init.sql, in PostgreSQL's types.
-- Times are timestamptz, written in UTC at microsecond precision; the zero
-- time.Time is stored as 0001-01-01 UTC, except ended_at, where NULL means
-- active. Identifiers and keys use the "C" collation, so that ORDER BY and
-- uniqueness compare bytes, as SQLite does, whatever the database's locale.
CREATE TABLE users (
	id            text COLLATE "C" PRIMARY KEY,
	username      text COLLATE "C" NOT NULL UNIQUE,
	email         text NOT NULL,
	profile       text NOT NULL,
	password_hash text NOT NULL,
	created_at    timestamptz NOT NULL,
	updated_at    timestamptz NOT NULL
);

CREATE TABLE accounts (
	id               text COLLATE "C" PRIMARY KEY,
	name             text NOT NULL,
	environment      text NOT NULL CHECK (environment IN ('paper', 'live')),
	parent_id        text COLLATE "C" REFERENCES accounts (id),
	entity_code      text NOT NULL DEFAULT '',
	perm_options     boolean NOT NULL DEFAULT false,
	perm_margin      boolean NOT NULL DEFAULT false,
	perm_futures     boolean NOT NULL DEFAULT false,
	perm_withdrawals boolean NOT NULL DEFAULT false,
	created_at       timestamptz NOT NULL
);

CREATE TABLE memberships (
	user_id    text COLLATE "C" NOT NULL REFERENCES users (id),
	account_id text COLLATE "C" NOT NULL REFERENCES accounts (id),
	role       text NOT NULL,
	created_at timestamptz NOT NULL,
	PRIMARY KEY (user_id, account_id)
);

CREATE TABLE sessions (
	id           text COLLATE "C" PRIMARY KEY,
	user_id      text COLLATE "C" NOT NULL REFERENCES users (id),
	interface    text NOT NULL,
	token_hash   bytea NOT NULL UNIQUE,
	jkt          text NOT NULL DEFAULT '',
	device_id    text NOT NULL DEFAULT '',
	device_name  text NOT NULL DEFAULT '',
	ip           text NOT NULL DEFAULT '',
	user_agent   text NOT NULL DEFAULT '',
	aal          integer NOT NULL,
	auth_time    timestamptz NOT NULL,
	created_at   timestamptz NOT NULL,
	last_seen_at timestamptz NOT NULL,
	expires_at   timestamptz NOT NULL,
	idle_us      bigint NOT NULL,
	ended_at     timestamptz,
	end_reason   text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id, created_at);
CREATE INDEX sessions_active ON sessions (ended_at, created_at);

CREATE TABLE devices (
	id           text COLLATE "C" PRIMARY KEY,
	user_id      text COLLATE "C" NOT NULL REFERENCES users (id),
	interface    text NOT NULL,
	fingerprint  text COLLATE "C" NOT NULL,
	name         text NOT NULL DEFAULT '',
	status       text NOT NULL,
	created_at   timestamptz NOT NULL,
	last_seen_at timestamptz NOT NULL,
	UNIQUE (user_id, fingerprint)
);

-- detail is the JSON text that was sealed, kept as written (jsonb would
-- reorder it).
CREATE TABLE audit (
	seq       bigint PRIMARY KEY,
	time      timestamptz NOT NULL,
	type      text NOT NULL,
	user_id   text COLLATE "C" NOT NULL DEFAULT '',
	actor     text NOT NULL DEFAULT '',
	interface text NOT NULL DEFAULT '',
	ip        text NOT NULL DEFAULT '',
	detail    text NOT NULL DEFAULT '{}',
	prev_hash bytea,
	hash      bytea NOT NULL
);
CREATE INDEX audit_user ON audit (user_id, seq);

CREATE TABLE throttles (
	key      text COLLATE "C" PRIMARY KEY,
	failures integer NOT NULL,
	next_at  timestamptz NOT NULL,
	last_at  timestamptz NOT NULL
);
