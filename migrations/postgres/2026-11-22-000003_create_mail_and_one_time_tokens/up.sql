-- Single-use tokens for password reset and activation: only the SHA-256 of the token is kept.
CREATE TABLE one_time_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('password_reset', 'activation')),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX one_time_tokens_user_id_idx ON one_time_tokens (user_id);
CREATE INDEX one_time_tokens_expires_at_idx ON one_time_tokens (expires_at);

-- Rendered mail waiting for (or done with) delivery; written in the same transaction as the
-- state change that caused it, so nothing is lost when the mail server is down.
CREATE TABLE email_outbox (
    id BIGSERIAL PRIMARY KEY,
    to_address TEXT NOT NULL,
    from_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_until TIMESTAMP,
    sent_at TIMESTAMP,
    last_error TEXT
);
CREATE INDEX email_outbox_pending_idx ON email_outbox (sent_at, next_attempt_at);

-- Last mail per purpose and address (keyed by a hash of the lower-cased address), written for
-- unknown addresses too so the cooldown behaves the same either way.
CREATE TABLE mail_cooldowns (
    key TEXT PRIMARY KEY NOT NULL,
    last_at TIMESTAMP NOT NULL
);
