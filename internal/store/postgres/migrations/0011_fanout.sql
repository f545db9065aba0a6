-- Revocations beyond ended sessions reach every instance at commit, by
-- NOTIFY on the schema's revocation channel (see DB.Revocations), from
-- triggers, so that no path that revokes can forget to:
--
--   key:<id>   an API key revoked, rotated (its overlap set), suspended by
--              a freeze or thawed; and the keys a membership change bounds
--              (their creator's on that account);
--   user:<id>  a user frozen or unfrozen, or whose membership changed:
--              whatever an instance caches of that user;
--   <id>       a session whose token changed (a step-up mints a new one)
--              or whose assurance dropped. Ended sessions are sent by the
--              statements that end them.
--
-- A NOTIFY in a transaction that rolls back is never sent; identical
-- ones in one transaction are sent once.

-- gatehouse_notify sends payload on the revocation channel of schema,
-- named as DB.channel names it: "gatehouse_revoked:" and the schema, or
-- the first 16 bytes of its SHA-256 in hex where that passes 63 bytes.
CREATE FUNCTION gatehouse_notify(schema text, payload text) RETURNS void LANGUAGE sql AS $$
	SELECT pg_notify(CASE WHEN octet_length('gatehouse_revoked:' || schema) <= 63
		THEN 'gatehouse_revoked:' || schema
		ELSE 'gatehouse_revoked:' || left(encode(sha256(convert_to(schema, 'UTF8')), 'hex'), 32) END, payload)
$$;

CREATE FUNCTION gatehouse_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM gatehouse_notify(TG_TABLE_SCHEMA, 'key:' || NEW.id);
	RETURN NULL;
END $$;

CREATE TRIGGER api_keys_revoked AFTER UPDATE ON api_keys FOR EACH ROW
	WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.overlap_ends_at IS DISTINCT FROM NEW.overlap_ends_at
		OR OLD.frozen_at IS DISTINCT FROM NEW.frozen_at OR OLD.successor_id IS DISTINCT FROM NEW.successor_id)
	EXECUTE FUNCTION gatehouse_key_changed();

CREATE FUNCTION gatehouse_membership_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	m memberships;
BEGIN
	IF TG_OP = 'DELETE' THEN m := OLD; ELSE m := NEW; END IF;
	PERFORM gatehouse_notify(TG_TABLE_SCHEMA, 'user:' || m.user_id);
	PERFORM gatehouse_notify(TG_TABLE_SCHEMA, 'key:' || k.id)
		FROM api_keys k WHERE k.created_by = m.user_id AND k.account_id = m.account_id AND k.revoked_at IS NULL;
	RETURN NULL;
END $$;

CREATE TRIGGER memberships_changed AFTER INSERT OR UPDATE OR DELETE ON memberships FOR EACH ROW
	EXECUTE FUNCTION gatehouse_membership_changed();

CREATE FUNCTION gatehouse_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM gatehouse_notify(TG_TABLE_SCHEMA, 'user:' || NEW.id);
	RETURN NULL;
END $$;

CREATE TRIGGER users_frozen AFTER UPDATE ON users FOR EACH ROW
	WHEN (OLD.frozen_at IS DISTINCT FROM NEW.frozen_at)
	EXECUTE FUNCTION gatehouse_user_changed();

CREATE FUNCTION gatehouse_session_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM gatehouse_notify(TG_TABLE_SCHEMA, NEW.id);
	RETURN NULL;
END $$;

CREATE TRIGGER sessions_lowered AFTER UPDATE ON sessions FOR EACH ROW
	WHEN (OLD.token_hash IS DISTINCT FROM NEW.token_hash OR NEW.aal < OLD.aal)
	EXECUTE FUNCTION gatehouse_session_changed();
