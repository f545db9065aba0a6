-- The networks a live trading key was used from (apikey.Network), and
-- the keys held on a new one until their owner approves it.
ALTER TABLE api_keys ADD COLUMN hold_on_new_network boolean NOT NULL DEFAULT false;

CREATE TABLE api_key_networks (
	key_id        text COLLATE "C" NOT NULL REFERENCES api_keys (id),
	network       text COLLATE "C" NOT NULL,
	first_ip      text NOT NULL DEFAULT '',
	first_seen_at timestamptz NOT NULL,
	approved_at   timestamptz,
	approved_by   text NOT NULL DEFAULT '',
	PRIMARY KEY (key_id, network)
);
