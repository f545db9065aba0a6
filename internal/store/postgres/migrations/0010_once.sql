-- Single-use values (store.Once): DPoP proof ids and other one-time
-- tokens, by kind and the SHA-256 the caller computed, never the value,
-- until they expire; the janitor deletes expired rows.
--
-- UNLOGGED: a row is written on every DPoP-bound request, and writing no
-- WAL for it keeps that cheap. The price is that a crash of PostgreSQL
-- (not of gatehouse) empties the table, so a proof still inside its
-- short life (a minute by default) could be replayed once after the
-- database restarts; the instances' own replay caches still refuse it
-- where it was seen. Rows are not copied to streaming replicas either: a
-- promoted replica starts with none, with the same bounded exposure.
CREATE UNLOGGED TABLE used_once (
	kind       text COLLATE "C" NOT NULL,
	hash       bytea NOT NULL,
	expires_at timestamptz NOT NULL,
	PRIMARY KEY (kind, hash)
);
CREATE INDEX used_once_expires ON used_once (expires_at);
