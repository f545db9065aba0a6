-- The session that minted each key (created or rotated it), so that a key
-- made by a session later ended as untrusted (revoked, or by a password
-- change) can be offered for review. Empty for keys an operator made and
-- for keys older than this column.
ALTER TABLE api_keys ADD COLUMN session_id TEXT NOT NULL DEFAULT '';
