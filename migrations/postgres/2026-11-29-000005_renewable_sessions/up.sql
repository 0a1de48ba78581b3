-- A session opened by the FastAPI-style /users/login/: its access token is renewed by
-- /users/session/ while the session lives (idle timeout and absolute lifetime, as browser
-- sessions), even past the token's own expiry.
ALTER TABLE sessions ADD COLUMN renewable BOOLEAN NOT NULL DEFAULT FALSE;
