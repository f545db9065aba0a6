-- Cool-downs (issue 14): after a password or factor change, an unfreeze
-- or a recovery, risky actions wait until cooldown_until ('0001-01-01'
-- for "never"); cooldown_reason names the change.
ALTER TABLE users ADD COLUMN cooldown_until timestamptz NOT NULL DEFAULT '0001-01-01 00:00:00+00';
ALTER TABLE users ADD COLUMN cooldown_reason text NOT NULL DEFAULT '';

-- A cool-down started or lifted reaches every instance's caches at
-- commit (see 0011).
CREATE TRIGGER users_cooldown AFTER UPDATE ON users FOR EACH ROW
	WHEN (OLD.cooldown_until IS DISTINCT FROM NEW.cooldown_until)
	EXECUTE FUNCTION gatehouse_user_changed();
