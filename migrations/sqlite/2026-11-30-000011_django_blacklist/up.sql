-- Refresh tokens SimpleJWT blacklisted (imported with `latchkey import django
-- --with-token-blacklist`, or blacklisted here by a logout during the switch): they stay
-- refused while Django's tokens are accepted.
CREATE TABLE django_blacklist (
    jti TEXT PRIMARY KEY NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    blacklisted_at TIMESTAMP NOT NULL
);
