DROP INDEX users_id_idx;
DROP INDEX mail_cooldowns_last_at_idx;
DROP INDEX login_throttle_last_failed_at_idx;
DROP TABLE ip_buckets;
DROP INDEX email_outbox_sent_at_idx;
ALTER TABLE email_outbox DROP COLUMN lease_owner;
CREATE TABLE one_time_tokens_old (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('password_reset', 'activation')),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
INSERT INTO one_time_tokens_old (token_hash, user_id, purpose, created_at, expires_at, used_at)
    SELECT token_hash, user_id, purpose, created_at, expires_at, used_at FROM one_time_tokens
    WHERE purpose <> 'email_change';
DROP TABLE one_time_tokens;
ALTER TABLE one_time_tokens_old RENAME TO one_time_tokens;
CREATE INDEX one_time_tokens_user_id_idx ON one_time_tokens (user_id);
CREATE INDEX one_time_tokens_expires_at_idx ON one_time_tokens (expires_at);
ALTER TABLE users DROP COLUMN activation_pending;
