DROP INDEX mail_cooldowns_last_at_idx;
DROP INDEX login_throttle_last_failed_at_idx;
DROP TABLE ip_buckets;
DROP INDEX email_outbox_sent_at_idx;
ALTER TABLE email_outbox DROP COLUMN lease_owner;
DELETE FROM one_time_tokens WHERE purpose = 'email_change';
ALTER TABLE one_time_tokens DROP COLUMN session_id;
ALTER TABLE one_time_tokens DROP COLUMN new_email;
ALTER TABLE one_time_tokens DROP CONSTRAINT one_time_tokens_purpose_check;
ALTER TABLE one_time_tokens ADD CONSTRAINT one_time_tokens_purpose_check
    CHECK (purpose IN ('password_reset', 'activation'));
ALTER TABLE users DROP COLUMN activation_pending;
