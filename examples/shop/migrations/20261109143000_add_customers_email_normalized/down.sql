-- ALTER TABLE ... DROP COLUMN needs SQLite 3.35 or newer.
ALTER TABLE customers DROP COLUMN email_normalized;
