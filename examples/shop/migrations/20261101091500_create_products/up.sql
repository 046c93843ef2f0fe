-- Product catalogue. Prices are stored as integer cents to avoid rounding
-- differences between SQLite (REAL) and PostgreSQL (NUMERIC).
CREATE TABLE products (
    id          INTEGER PRIMARY KEY,
    sku         TEXT NOT NULL,
    name        TEXT NOT NULL,
    price_cents INTEGER NOT NULL,
    stock       INTEGER NOT NULL DEFAULT 0,
    created_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT products_sku_key UNIQUE (sku),
    CONSTRAINT products_price_cents_check CHECK (price_cents >= 0),
    CONSTRAINT products_stock_check CHECK (stock >= 0)
);

CREATE INDEX products_name_idx ON products (name);
