-- A session whose assurance drops (a factor it proved was removed) is
-- named in the revocation log too, so that a running server forgets its
-- cached copy on its next request, as PostgreSQL's notification does.
CREATE TRIGGER sessions_lowered AFTER UPDATE OF aal ON sessions
WHEN NEW.aal < OLD.aal AND NEW.ended_at IS NULL
BEGIN
	DELETE FROM revocations WHERE at < unixepoch() - 3600;
	INSERT INTO revocations (kind, id, at) VALUES ('session', NEW.id, unixepoch());
END;
