-- "This wasn't me": a frozen user (frozen_at non-zero, frozen_by the
-- actor: the user, "link", "phone:<factor>" or "admin"), the API keys a
-- freeze suspended (frozen_at non-zero; unfreezing clears exactly those,
-- so a key revoked before or during the freeze stays revoked), and the
-- single-use freeze links that notices carry, stored as SHA-256 hashes
-- only. Times are Unix microseconds (UTC), 0 for "never".
ALTER TABLE users ADD COLUMN frozen_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN frozen_by TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN frozen_at INTEGER NOT NULL DEFAULT 0;

CREATE TABLE freeze_links (
	token_hash BLOB PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id),
	expires_at INTEGER NOT NULL,
	used_at    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX freeze_links_expires ON freeze_links (expires_at);

-- A key suspended by a freeze is a revocation for the caches of every
-- process on the file (see 0004): the server forgets it at once when
-- `gatehouse freeze` runs beside it.
CREATE TRIGGER api_keys_frozen AFTER UPDATE OF frozen_at ON api_keys
WHEN OLD.frozen_at = 0 AND NEW.frozen_at <> 0
BEGIN
	DELETE FROM revocations WHERE at < unixepoch() - 3600;
	INSERT INTO revocations (kind, id, at) VALUES ('key', NEW.id, unixepoch());
END;
