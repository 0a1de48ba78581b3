-- OAuth/OpenID clients (relying parties). A confidential client's secret is kept as its
-- SHA-256 (the secret is 256 random bits, so a slow hash would add nothing but cost at the
-- token endpoint); a public client has none. URIs are one per line, matched exactly.
CREATE TABLE oauth_clients (
    client_id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    secret_hash TEXT,
    first_party BOOLEAN NOT NULL DEFAULT 0,
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    secret_rotated_at TIMESTAMP
);
