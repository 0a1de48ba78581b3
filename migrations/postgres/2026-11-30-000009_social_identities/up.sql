-- A person's accounts at upstream identity providers, keyed by the provider's issuer and its
-- subject identifier (never by email): the same Google account always finds the same user.
CREATE TABLE social_identities (
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    provider TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email TEXT,
    created_at TIMESTAMP NOT NULL,
    last_login_at TIMESTAMP,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX social_identities_user_id_idx ON social_identities (user_id);
