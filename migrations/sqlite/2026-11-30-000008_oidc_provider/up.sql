-- The OpenID provider's grants. A grant is a refresh-token session (stored kind 'api', whose
-- CHECK predates grants) that names its client: the session lists and ends like any other, and
-- removing the client ends it. scope and auth_time are what its tokens say on every refresh.
ALTER TABLE sessions ADD COLUMN client_id TEXT REFERENCES oauth_clients (client_id) ON DELETE CASCADE;
ALTER TABLE sessions ADD COLUMN scope TEXT;
ALTER TABLE sessions ADD COLUMN auth_time TIMESTAMP;
CREATE INDEX sessions_client_id_idx ON sessions (client_id);

-- The algorithm of the client's ID tokens (openid-client expects RS256 unless registered).
ALTER TABLE oauth_clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT 'RS256';

-- Authorization codes, stored as their SHA-256: single use, short-lived, bound to the client,
-- the redirect URI, the PKCE challenge and the nonce. session_id is the grant the code was
-- exchanged for, so a replayed code can end it.
CREATE TABLE oauth_codes (
    code_hash TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT,
    auth_time TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    session_id TEXT
);
CREATE INDEX oauth_codes_expires_at_idx ON oauth_codes (expires_at);

-- What a person allowed a third-party client to see, remembered so the consent page is asked
-- once (the account page lists and revokes them).
CREATE TABLE oauth_consents (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    granted_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- Whether the person proved they read mail at the address (an activation or address-change
-- link): the ID token's email_verified. Accounts from before this was kept say false.
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT 0;
