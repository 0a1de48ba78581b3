-- When every session of an imported account last ended here (a password change or reset, an
-- address change, a deactivation, "log out everywhere"): the tokens Django minted before then
-- are refused from then on, as the sessions they stand for have ended.
ALTER TABLE django_imports ADD COLUMN sessions_ended_at TIMESTAMP;
