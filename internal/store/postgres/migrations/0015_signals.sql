-- Security signals (signal.Signal) and what applying them did. Doors and
-- profiles are comma-separated, steps newline-separated in the form
-- `--step` takes. '0001-01-01' stands for "never", as elsewhere. A
-- signal is never deleted: a closed one is history.
CREATE TABLE signals (
	id         text COLLATE "C" PRIMARY KEY,
	title      text NOT NULL,
	kind       text NOT NULL,
	severity   text NOT NULL,
	doors      text NOT NULL DEFAULT '',
	profiles   text NOT NULL DEFAULT '',
	link       text NOT NULL DEFAULT '',
	steps      text NOT NULL DEFAULT '',
	state      text NOT NULL,
	created_at timestamptz NOT NULL,
	created_by text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT '0001-01-01 00:00:00+00',
	closed_at  timestamptz NOT NULL DEFAULT '0001-01-01 00:00:00+00',
	closed_by  text NOT NULL DEFAULT ''
);
-- One row per action done (an ended session, a marked key, a user told):
-- the key makes applying again do nothing twice.
CREATE TABLE signal_effects (
	signal_id text COLLATE "C" NOT NULL REFERENCES signals (id),
	step      integer NOT NULL,
	op        text NOT NULL,
	target    text COLLATE "C" NOT NULL,
	user_id   text COLLATE "C" NOT NULL,
	at        timestamptz NOT NULL,
	PRIMARY KEY (signal_id, step, op, target)
);
CREATE INDEX signal_effects_user ON signal_effects (user_id);
