-- Security signals (signal.Signal) and what applying them did. Doors and
-- profiles are comma-separated, steps newline-separated in the form
-- `--step` takes. Times are Unix microseconds, 0 for never. A signal is
-- never deleted: a closed one is history.
CREATE TABLE signals (
	id         TEXT PRIMARY KEY,
	title      TEXT NOT NULL,
	kind       TEXT NOT NULL,
	severity   TEXT NOT NULL,
	doors      TEXT NOT NULL DEFAULT '',
	profiles   TEXT NOT NULL DEFAULT '',
	link       TEXT NOT NULL DEFAULT '',
	steps      TEXT NOT NULL DEFAULT '',
	state      TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	created_by TEXT NOT NULL,
	applied_at INTEGER NOT NULL DEFAULT 0,
	closed_at  INTEGER NOT NULL DEFAULT 0,
	closed_by  TEXT NOT NULL DEFAULT ''
);
-- One row per action done (an ended session, a marked key, a user told):
-- the key makes applying again do nothing twice.
CREATE TABLE signal_effects (
	signal_id TEXT NOT NULL REFERENCES signals (id),
	step      INTEGER NOT NULL,
	op        TEXT NOT NULL,
	target    TEXT NOT NULL,
	user_id   TEXT NOT NULL,
	at        INTEGER NOT NULL,
	PRIMARY KEY (signal_id, step, op, target)
);
CREATE INDEX signal_effects_user ON signal_effects (user_id);
