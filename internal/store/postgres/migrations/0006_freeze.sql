-- "This wasn't me": a frozen user (frozen_at later than the zero time,
-- frozen_by the actor: the user, "link", "phone:<factor>" or "admin"),
-- the API keys a freeze suspended (unfreezing clears exactly those, so a
-- key revoked before or during the freeze stays revoked), and the
-- single-use freeze links that notices carry, stored as SHA-256 hashes
-- only. '0001-01-01' stands for "never", as elsewhere.
ALTER TABLE users ADD COLUMN frozen_at timestamptz NOT NULL DEFAULT '0001-01-01 00:00:00+00';
ALTER TABLE users ADD COLUMN frozen_by text NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN frozen_at timestamptz NOT NULL DEFAULT '0001-01-01 00:00:00+00';

CREATE TABLE freeze_links (
	token_hash bytea PRIMARY KEY,
	user_id    text COLLATE "C" NOT NULL REFERENCES users (id),
	expires_at timestamptz NOT NULL,
	used_at    timestamptz NOT NULL DEFAULT '0001-01-01 00:00:00+00'
);
CREATE INDEX freeze_links_expires ON freeze_links (expires_at);
