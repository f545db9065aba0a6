-- Each user's notice settings: the channels chosen per event (a JSON
-- object of event types to channel lists, '{}' for the defaults; text,
-- as SQLite keeps it, so both read back byte for byte) and the
-- anti-phishing phrase ('' for none) that every mail shows first. A user
-- who never chose has no row.
CREATE TABLE notice_settings (
	user_id     text COLLATE "C" PRIMARY KEY REFERENCES users (id),
	preferences text NOT NULL DEFAULT '{}',
	phrase      text NOT NULL DEFAULT '',
	updated_at  timestamptz NOT NULL
);
