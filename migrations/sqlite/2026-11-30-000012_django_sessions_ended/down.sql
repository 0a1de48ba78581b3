ALTER TABLE django_imports DROP COLUMN sessions_ended_at;
