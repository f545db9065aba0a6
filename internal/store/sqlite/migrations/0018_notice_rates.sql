-- Each user's place under the per-user notice limit (notice.Limit): the
-- window's counts as JSON (notice.RateState) and the id of the outbox
-- message that will sum up the notices held back in it ('' for none).
-- A user sent no notice has no row.
CREATE TABLE notice_rates (
	user_id TEXT PRIMARY KEY REFERENCES users (id),
	state   TEXT NOT NULL DEFAULT '{}',
	summary TEXT NOT NULL DEFAULT ''
);
