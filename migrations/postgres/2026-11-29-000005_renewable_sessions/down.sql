ALTER TABLE sessions DROP COLUMN renewable;
