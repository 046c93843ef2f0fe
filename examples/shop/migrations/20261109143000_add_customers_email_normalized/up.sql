-- Expand step of the case-insensitive e-mail change: add a nullable
-- email_normalized column. It is deliberately left NULL here, a plugin
-- backfill fills it in batches afterwards. Making it NOT NULL and UNIQUE is
-- the job of a later contract migration, once the backfill has completed.
ALTER TABLE customers ADD COLUMN email_normalized TEXT;
