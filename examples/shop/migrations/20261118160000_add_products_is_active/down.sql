-- ALTER TABLE ... DROP COLUMN needs SQLite 3.35 or newer.
ALTER TABLE products DROP COLUMN is_active;
