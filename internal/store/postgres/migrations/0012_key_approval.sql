-- An API key whose transfers wait for its owner's approval
-- (apikey.Key.ApprovalRequired).
ALTER TABLE api_keys ADD COLUMN approval_required boolean NOT NULL DEFAULT false;
