-- API keys. Only the SHA-256 of a key's secret is stored (secret_hash);
-- the key itself is shown once, at creation or rotation. Scopes are their
-- names and the allowlist its CIDRs, each separated by single spaces, so
-- that a reordering of scope bits never changes a stored key's powers.
-- Times are Unix microseconds (UTC), 0 for "never"; a NULL revoked_at
-- means not revoked. created_by is a user id, or "admin" for keys an
-- operator made with the command line.
CREATE TABLE api_keys (
	id              TEXT PRIMARY KEY,
	account_id      TEXT NOT NULL REFERENCES accounts (id),
	name            TEXT NOT NULL,
	environment     TEXT NOT NULL CHECK (environment IN ('paper', 'live')),
	scopes          TEXT NOT NULL,
	allow_ips       TEXT NOT NULL DEFAULT '',
	secret_hash     BLOB NOT NULL,
	created_by      TEXT NOT NULL,
	created_at      INTEGER NOT NULL,
	expires_at      INTEGER NOT NULL,
	last_used_at    INTEGER NOT NULL DEFAULT 0,
	last_used_ip    TEXT NOT NULL DEFAULT '',
	revoked_at      INTEGER,
	revoke_reason   TEXT NOT NULL DEFAULT '',
	successor_id    TEXT NOT NULL DEFAULT '',
	predecessor_id  TEXT NOT NULL DEFAULT '',
	overlap_ends_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_account ON api_keys (account_id, created_at);
CREATE INDEX api_keys_unrevoked ON api_keys (revoked_at, created_at);

-- Every address a key has been used from, so that the first use from a
-- new one is noticed (and audited) once.
CREATE TABLE api_key_addresses (
	key_id        TEXT NOT NULL REFERENCES api_keys (id),
	ip            TEXT NOT NULL,
	first_seen_at INTEGER NOT NULL,
	PRIMARY KEY (key_id, ip)
);
