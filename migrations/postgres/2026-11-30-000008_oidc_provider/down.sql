ALTER TABLE users DROP COLUMN email_verified;
DROP TABLE oauth_consents;
DROP TABLE oauth_codes;
ALTER TABLE oauth_clients DROP COLUMN id_token_alg;
DROP INDEX sessions_client_id_idx;
ALTER TABLE sessions DROP COLUMN auth_time;
ALTER TABLE sessions DROP COLUMN scope;
ALTER TABLE sessions DROP COLUMN client_id;
