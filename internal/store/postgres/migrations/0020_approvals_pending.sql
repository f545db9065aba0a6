-- The pending approvals of a user, the one look-up by status, are indexed
-- alone: an approval leaves the index when it is decided, and the moves
-- after that (approved to used, as forward-auth spends a token) touch no
-- index.
DROP INDEX approvals_user_status;
CREATE INDEX approvals_pending ON approvals (user_id, expires_at) WHERE status = 'pending';
