-- A membership change bounds the keys its member created on the account
-- (their scopes are intersected with the role's; a removal suspends
-- them), so it goes into the revocation log as those keys: a server on
-- the same file forgets them from its key cache on its next read of the
-- log, and `gatehouse member add|remove` run as another process takes
-- effect at once rather than at the cache's age.
CREATE TRIGGER memberships_added AFTER INSERT ON memberships
BEGIN
	DELETE FROM revocations WHERE at < unixepoch() - 3600;
	INSERT INTO revocations (kind, id, at)
		SELECT 'key', id, unixepoch() FROM api_keys WHERE created_by = NEW.user_id AND account_id = NEW.account_id AND revoked_at IS NULL;
END;

CREATE TRIGGER memberships_changed AFTER UPDATE OF role ON memberships
WHEN OLD.role IS NOT NEW.role
BEGIN
	DELETE FROM revocations WHERE at < unixepoch() - 3600;
	INSERT INTO revocations (kind, id, at)
		SELECT 'key', id, unixepoch() FROM api_keys WHERE created_by = NEW.user_id AND account_id = NEW.account_id AND revoked_at IS NULL;
END;

CREATE TRIGGER memberships_removed AFTER DELETE ON memberships
BEGIN
	DELETE FROM revocations WHERE at < unixepoch() - 3600;
	INSERT INTO revocations (kind, id, at)
		SELECT 'key', id, unixepoch() FROM api_keys WHERE created_by = OLD.user_id AND account_id = OLD.account_id AND revoked_at IS NULL;
END;
