-- Each user's notice settings: the channels chosen per event (a JSON
-- object of event types to channel lists, '{}' for the defaults) and the
-- anti-phishing phrase ('' for none) that every mail shows first. A user
-- who never chose has no row. Times are Unix microseconds (UTC).
CREATE TABLE notice_settings (
	user_id     TEXT PRIMARY KEY REFERENCES users (id),
	preferences TEXT NOT NULL DEFAULT '{}',
	phrase      TEXT NOT NULL DEFAULT '',
	updated_at  INTEGER NOT NULL
);
