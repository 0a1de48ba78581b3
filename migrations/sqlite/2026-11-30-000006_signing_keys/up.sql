-- Asymmetric signing keys, shared by every process of a deployment. The private key is stored
-- encrypted (AES-256-GCM under a key derived from secret_key); the public key is what JWKS
-- publishes. A key is published from created_at, signs from activates_at (after the publish
-- delay, so clients have fetched it), stops signing when a newer key of its algorithm
-- activates, and is unpublished at unpublish_at (once what it signed has expired).
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    alg TEXT NOT NULL,
    private_key TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    activates_at TIMESTAMP NOT NULL,
    unpublish_at TIMESTAMP
);
CREATE INDEX signing_keys_alg ON signing_keys (alg, activates_at);
