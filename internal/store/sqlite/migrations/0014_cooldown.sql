-- Cool-downs (issue 14): after a password or factor change, an unfreeze
-- or a recovery, risky actions wait until cooldown_until (Unix
-- microseconds, UTC; 0 for "never"); cooldown_reason names the change.
ALTER TABLE users ADD COLUMN cooldown_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN cooldown_reason TEXT NOT NULL DEFAULT '';

-- The revocation log learns a third kind, 'user': whatever is cached of
-- that user must be read again. SQLite cannot change a CHECK, so the
-- table is rebuilt; the triggers that write it name it, not its rowid.
-- legacy_alter_table keeps the rename from checking those triggers in
-- the moment the old table is gone and the new one not yet renamed.
CREATE TABLE revocations_new (
	seq  INTEGER PRIMARY KEY AUTOINCREMENT,
	kind TEXT NOT NULL CHECK (kind IN ('session', 'key', 'user')),
	id   TEXT NOT NULL,
	at   INTEGER NOT NULL
);
INSERT INTO revocations_new (seq, kind, id, at) SELECT seq, kind, id, at FROM revocations;
PRAGMA legacy_alter_table = ON;
DROP TABLE revocations;
ALTER TABLE revocations_new RENAME TO revocations;
PRAGMA legacy_alter_table = OFF;
CREATE INDEX revocations_at ON revocations (at);

-- A cool-down started or lifted is a change of the user for the caches
-- of every process on the file (see 0004): forward-auth reads it again
-- at once when `gatehouse cooldown lift` runs beside the server, or a
-- flow starts one.
CREATE TRIGGER users_cooldown AFTER UPDATE OF cooldown_until ON users
WHEN OLD.cooldown_until <> NEW.cooldown_until
BEGIN
	DELETE FROM revocations WHERE at < unixepoch() - 3600;
	INSERT INTO revocations (kind, id, at) VALUES ('user', NEW.id, unixepoch());
END;
