-- Single-use values (store.Once), by kind and the SHA-256 the caller
-- computed, never the value, until they expire (Unix microseconds); the
-- janitor deletes expired rows. One SQLite file serves one instance, so
-- serve keeps DPoP proof ids in memory there; the table serves one-time
-- tokens that must outlive a restart or be shared with the command line.
CREATE TABLE used_once (
	kind       TEXT NOT NULL,
	hash       BLOB NOT NULL,
	expires_at INTEGER NOT NULL,
	PRIMARY KEY (kind, hash)
);
CREATE INDEX used_once_expires ON used_once (expires_at);
