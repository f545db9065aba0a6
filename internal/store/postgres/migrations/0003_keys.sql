-- The tables of store/sqlite's 0003_keys.sql, in PostgreSQL's types. Only
-- the SHA-256 of a key's secret is stored. Scopes and allowlist are text
-- with space-separated names and CIDRs, as in SQLite; the zero time is
-- 0001-01-01 UTC, except revoked_at, where NULL means not revoked.
CREATE TABLE api_keys (
	id              text COLLATE "C" PRIMARY KEY,
	account_id      text COLLATE "C" NOT NULL REFERENCES accounts (id),
	name            text NOT NULL,
	environment     text NOT NULL CHECK (environment IN ('paper', 'live')),
	scopes          text NOT NULL,
	allow_ips       text NOT NULL DEFAULT '',
	secret_hash     bytea NOT NULL,
	created_by      text COLLATE "C" NOT NULL,
	created_at      timestamptz NOT NULL,
	expires_at      timestamptz NOT NULL,
	last_used_at    timestamptz NOT NULL DEFAULT '0001-01-01 00:00:00+00',
	last_used_ip    text NOT NULL DEFAULT '',
	revoked_at      timestamptz,
	revoke_reason   text NOT NULL DEFAULT '',
	successor_id    text COLLATE "C" NOT NULL DEFAULT '',
	predecessor_id  text COLLATE "C" NOT NULL DEFAULT '',
	overlap_ends_at timestamptz NOT NULL DEFAULT '0001-01-01 00:00:00+00'
);
CREATE INDEX api_keys_account ON api_keys (account_id, created_at);
CREATE INDEX api_keys_unrevoked ON api_keys (revoked_at, created_at);

CREATE TABLE api_key_addresses (
	key_id        text COLLATE "C" NOT NULL REFERENCES api_keys (id),
	ip            text NOT NULL,
	first_seen_at timestamptz NOT NULL,
	PRIMARY KEY (key_id, ip)
);
