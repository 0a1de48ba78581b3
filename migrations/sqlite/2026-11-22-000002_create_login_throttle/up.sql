-- Consecutive failed logins per account ("user:<id>") or per unknown identifier
-- ("ident:<lower-cased identifier>"), so backoff behaves the same whether or not an account
-- exists, and works across processes sharing one database.
CREATE TABLE login_throttle (
    key TEXT PRIMARY KEY NOT NULL,
    failures INTEGER NOT NULL,
    last_failed_at TIMESTAMP NOT NULL,
    locked_at TIMESTAMP
);
