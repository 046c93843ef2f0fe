-- ALTER TABLE ... DROP COLUMN needs SQLite 3.35 or newer.
ALTER TABLE orders DROP COLUMN state;
