-- Products can be hidden from the storefront without deleting them (order
-- lines keep referencing them). Existing products stay active.
-- BOOLEAN is a real type on PostgreSQL, on SQLite it has NUMERIC affinity
-- and TRUE/FALSE are stored as 1/0, so the same SQL works on both.
ALTER TABLE products ADD COLUMN is_active BOOLEAN NOT NULL DEFAULT TRUE;
