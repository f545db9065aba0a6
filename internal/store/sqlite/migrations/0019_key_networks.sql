-- The networks a live trading key was used from (apikey.Network), and
-- the keys held on a new one until their owner approves it.
ALTER TABLE api_keys ADD COLUMN hold_on_new_network INTEGER NOT NULL DEFAULT 0;

CREATE TABLE api_key_networks (
	key_id        TEXT NOT NULL REFERENCES api_keys (id),
	network       TEXT NOT NULL,
	first_ip      TEXT NOT NULL DEFAULT '',
	first_seen_at INTEGER NOT NULL,
	approved_at   INTEGER NOT NULL DEFAULT 0,
	approved_by   TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (key_id, network)
);
