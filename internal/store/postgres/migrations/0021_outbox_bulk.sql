-- Bulk messages (a signal applied to many users at once) are claimed
-- after every due message that is not: the workers' index leads with it.
ALTER TABLE outbox ADD COLUMN bulk BOOLEAN NOT NULL DEFAULT false;
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (bulk, next_attempt_at, id) WHERE state = 'pending';
