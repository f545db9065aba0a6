-- An API key whose transfers wait for its owner's approval
-- (apikey.Key.ApprovalRequired): 1, or 0 for none.
ALTER TABLE api_keys ADD COLUMN approval_required INTEGER NOT NULL DEFAULT 0;
