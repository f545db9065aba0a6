-- Second factors, recovery codes, login flows, push requests, phone
-- enrolments and device approval links. Zero times are 0001-01-01 UTC.
ALTER TABLE sessions ADD COLUMN amr text NOT NULL DEFAULT '';

CREATE TABLE factors (
	id            text COLLATE "C" PRIMARY KEY,
	user_id       text COLLATE "C" NOT NULL REFERENCES users (id),
	kind          text NOT NULL,
	name          text NOT NULL DEFAULT '',
	status        text NOT NULL,
	secret        bytea,
	last_step     bigint NOT NULL DEFAULT 0,
	credential_id bytea UNIQUE,
	public_key    text NOT NULL DEFAULT '',
	phone         text NOT NULL DEFAULT '',
	device_bound  boolean NOT NULL DEFAULT false,
	data          bytea,
	flag          text NOT NULL DEFAULT '',
	created_at    timestamptz NOT NULL,
	confirmed_at  timestamptz NOT NULL,
	last_used_at  timestamptz NOT NULL
);
CREATE INDEX factors_user ON factors (user_id);

CREATE TABLE recovery_codes (
	user_id text COLLATE "C" NOT NULL REFERENCES users (id),
	idx     integer NOT NULL,
	hash    bytea NOT NULL,
	used_at timestamptz NOT NULL,
	PRIMARY KEY (user_id, idx)
);

CREATE TABLE login_flows (
	id          text COLLATE "C" PRIMARY KEY,
	user_id     text COLLATE "C" NOT NULL REFERENCES users (id),
	interface   text NOT NULL,
	binding     text COLLATE "C" NOT NULL,
	ip          text NOT NULL DEFAULT '',
	user_agent  text NOT NULL DEFAULT '',
	device_name text NOT NULL DEFAULT '',
	device_id   text COLLATE "C" NOT NULL DEFAULT '',
	new_device  boolean NOT NULL DEFAULT false,
	state       text NOT NULL,
	aal         integer NOT NULL,
	amr         text NOT NULL DEFAULT '',
	challenge   bytea,
	attempts    integer NOT NULL DEFAULT 0,
	version     integer NOT NULL DEFAULT 0,
	session_id  text COLLATE "C" NOT NULL DEFAULT '',
	created_at  timestamptz NOT NULL,
	expires_at  timestamptz NOT NULL
);
CREATE INDEX login_flows_expiry ON login_flows (expires_at);

CREATE TABLE push_requests (
	id          text COLLATE "C" PRIMARY KEY,
	user_id     text COLLATE "C" NOT NULL REFERENCES users (id),
	flow_id     text COLLATE "C" NOT NULL DEFAULT '',
	purpose     text NOT NULL,
	device_id   text COLLATE "C" NOT NULL DEFAULT '',
	number      integer NOT NULL,
	interface   text NOT NULL DEFAULT '',
	ip          text NOT NULL DEFAULT '',
	device_name text NOT NULL DEFAULT '',
	outcome     text NOT NULL,
	created_at  timestamptz NOT NULL,
	expires_at  timestamptz NOT NULL,
	answered_at timestamptz NOT NULL
);
CREATE INDEX push_requests_user ON push_requests (user_id, created_at);

CREATE TABLE push_enrolments (
	code_hash  bytea PRIMARY KEY,
	user_id    text COLLATE "C" NOT NULL REFERENCES users (id),
	expires_at timestamptz NOT NULL,
	used_at    timestamptz NOT NULL
);

CREATE TABLE device_approvals (
	token_hash bytea PRIMARY KEY,
	device_id  text COLLATE "C" NOT NULL,
	user_id    text COLLATE "C" NOT NULL REFERENCES users (id),
	expires_at timestamptz NOT NULL,
	used_at    timestamptz NOT NULL
);
