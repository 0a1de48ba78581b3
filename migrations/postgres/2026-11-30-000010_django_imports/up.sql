-- Accounts imported from Django, with the password hash as Django had it at the last import:
-- a later import takes Django's hash only if it changed in Django since (the person changed
-- their password there), never over the argon2id hash a login here upgraded it to.
CREATE TABLE django_imports (
    user_id BIGINT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    password TEXT NOT NULL,
    imported_at TIMESTAMP NOT NULL
);
