-- "Waiting for the activation link" is kept apart from "deactivated by an operator": only the
-- former may be turned on by an activation link. Inactive accounts that never logged in and
-- were never deactivated by an operator are taken to be waiting for their link.
ALTER TABLE users ADD COLUMN activation_pending BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE users SET activation_pending = TRUE
WHERE is_active = FALSE
  AND last_login IS NULL
  AND id NOT IN (
      SELECT user_id FROM audit_events
      WHERE kind = 'user_deactivated' AND user_id IS NOT NULL
  );

-- Email changes wait for a one-time link sent to the new address: the token row carries the
-- address and the session that asked (which stays logged in when the change takes effect).
ALTER TABLE one_time_tokens DROP CONSTRAINT one_time_tokens_purpose_check;
ALTER TABLE one_time_tokens ADD CONSTRAINT one_time_tokens_purpose_check
    CHECK (purpose IN ('password_reset', 'activation', 'email_change'));
ALTER TABLE one_time_tokens ADD COLUMN new_email TEXT;
ALTER TABLE one_time_tokens ADD COLUMN session_id TEXT;

-- Which worker holds a message's lease, so a live worker can renew its own leases (short
-- leases let a restarted process re-claim a dead one's mail within seconds).
ALTER TABLE email_outbox ADD COLUMN lease_owner TEXT;
CREATE INDEX email_outbox_sent_at_idx ON email_outbox (sent_at);

-- Per-IP token buckets shared by every process of a PostgreSQL deployment.
CREATE TABLE ip_buckets (
    key TEXT PRIMARY KEY NOT NULL,
    tokens DOUBLE PRECISION NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX ip_buckets_updated_at_idx ON ip_buckets (updated_at);
CREATE INDEX login_throttle_last_failed_at_idx ON login_throttle (last_failed_at);
CREATE INDEX mail_cooldowns_last_at_idx ON mail_cooldowns (last_at);
