-- Customers of the shop.
--
-- Ids are plain INTEGER PRIMARY KEY so the same DDL runs on SQLite and
-- PostgreSQL. On SQLite the column is an alias of the rowid (auto-assigned
-- when omitted), on PostgreSQL it is not auto-generated: the seeds and the
-- application always supply ids explicitly.
CREATE TABLE customers (
    id         INTEGER PRIMARY KEY,
    email      TEXT NOT NULL,
    full_name  TEXT NOT NULL,
    country    TEXT NOT NULL DEFAULT 'DE',
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT customers_email_key UNIQUE (email),
    CONSTRAINT customers_email_check CHECK (email LIKE '%_@_%'),
    CONSTRAINT customers_full_name_check CHECK (length(full_name) > 0),
    CONSTRAINT customers_country_check CHECK (length(country) = 2)
);
