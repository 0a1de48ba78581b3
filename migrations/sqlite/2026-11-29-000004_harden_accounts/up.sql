-- "Waiting for the activation link" is kept apart from "deactivated by an operator": only the
-- former may be turned on by an activation link. Inactive accounts that never logged in and
-- were never deactivated by an operator are taken to be waiting for their link.
ALTER TABLE users ADD COLUMN activation_pending BOOLEAN NOT NULL DEFAULT 0;
UPDATE users SET activation_pending = 1
WHERE is_active = 0
  AND last_login IS NULL
  AND id NOT IN (
      SELECT user_id FROM audit_events
      WHERE kind = 'user_deactivated' AND user_id IS NOT NULL
  );

-- Email changes wait for a one-time link sent to the new address: the token row carries the
-- address and the session that asked (which stays logged in when the change takes effect).
-- SQLite cannot alter a CHECK constraint, so the table is rebuilt.
CREATE TABLE one_time_tokens_new (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('password_reset', 'activation', 'email_change')),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    new_email TEXT,
    session_id TEXT
);
INSERT INTO one_time_tokens_new (token_hash, user_id, purpose, created_at, expires_at, used_at)
    SELECT token_hash, user_id, purpose, created_at, expires_at, used_at FROM one_time_tokens;
DROP TABLE one_time_tokens;
ALTER TABLE one_time_tokens_new RENAME TO one_time_tokens;
CREATE INDEX one_time_tokens_user_id_idx ON one_time_tokens (user_id);
CREATE INDEX one_time_tokens_expires_at_idx ON one_time_tokens (expires_at);

-- Which worker holds a message's lease, so a live worker can renew its own leases (short
-- leases let a restarted process re-claim a dead one's mail within seconds).
ALTER TABLE email_outbox ADD COLUMN lease_owner TEXT;
CREATE INDEX email_outbox_sent_at_idx ON email_outbox (sent_at);

-- Per-IP token buckets (used on PostgreSQL only; SQLite deployments are one process and keep
-- them in memory). Created on both so the schemas stay alike.
CREATE TABLE ip_buckets (
    key TEXT PRIMARY KEY NOT NULL,
    tokens DOUBLE NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX ip_buckets_updated_at_idx ON ip_buckets (updated_at);
CREATE INDEX login_throttle_last_failed_at_idx ON login_throttle (last_failed_at);
CREATE INDEX mail_cooldowns_last_at_idx ON mail_cooldowns (last_at);

-- A narrow index on id: `users` is a rowid table, so counting past N ids for a deep page
-- would otherwise read every row; this index holds only the ids (about 4x faster at 1M users).
CREATE INDEX users_id_idx ON users (id);
