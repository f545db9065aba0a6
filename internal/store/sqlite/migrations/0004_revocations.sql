-- The revocation log: every session ended or whose token changed, and
-- every key revoked or rotated, by whichever process wrote it. A running
-- server reads what is new every few milliseconds (RevokedSince), so that
-- `gatehouse session revoke` and `gatehouse key revoke` run as another
-- process on the same file take effect on its next request instead of at
-- its cache age. Triggers write it, so that no path that revokes can
-- forget to. at is SQLite's own clock (Unix seconds), for pruning only:
-- an entry is kept an hour, far beyond any cache's age.
CREATE TABLE revocations (
	seq  INTEGER PRIMARY KEY AUTOINCREMENT,
	kind TEXT NOT NULL CHECK (kind IN ('session', 'key')),
	id   TEXT NOT NULL,
	at   INTEGER NOT NULL
);
CREATE INDEX revocations_at ON revocations (at);

CREATE TRIGGER sessions_revoked AFTER UPDATE OF ended_at, token_hash ON sessions
WHEN (OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL) OR OLD.token_hash IS NOT NEW.token_hash
BEGIN
	DELETE FROM revocations WHERE at < unixepoch() - 3600;
	INSERT INTO revocations (kind, id, at) VALUES ('session', NEW.id, unixepoch());
END;

CREATE TRIGGER api_keys_revoked AFTER UPDATE OF revoked_at, overlap_ends_at ON api_keys
WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL) OR OLD.overlap_ends_at IS NOT NEW.overlap_ends_at
BEGIN
	DELETE FROM revocations WHERE at < unixepoch() - 3600;
	INSERT INTO revocations (kind, id, at) VALUES ('key', NEW.id, unixepoch());
END;
