-- Demo catalogue: 2,000 products with ids 1..2000, generated
-- deterministically (no random()).
--   name        10 adjectives x 10 materials x 20 items, each combination once
--   sku         SKU-00001 .. SKU-02000
--   price_cents 2.99 .. 151.99
--   stock       every 10th product is out of stock
--   created_at  catalogue import dates 2024-12-01 .. 2024-12-28 (date(...)
--               is a function on SQLite and a function-style cast on
--               PostgreSQL, see seed_customers)
-- Products 1901..2000 are new arrivals that no seeded order references.
WITH RECURSIVE seq (n) AS (
    SELECT 1
    UNION ALL
    SELECT n + 1 FROM seq WHERE n < 2000
)
INSERT INTO products (id, sku, name, price_cents, stock, created_at)
SELECT
    n,
    'SKU-' || substr(CAST(100000 + n AS TEXT), 2),
    CASE n % 10
        WHEN 0 THEN 'Classic'   WHEN 1 THEN 'Compact'     WHEN 2 THEN 'Deluxe'
        WHEN 3 THEN 'Everyday'  WHEN 4 THEN 'Heavy-Duty'  WHEN 5 THEN 'Lightweight'
        WHEN 6 THEN 'Premium'   WHEN 7 THEN 'Rustic'      WHEN 8 THEN 'Travel'
        ELSE 'Vintage'
    END || ' ' ||
    CASE (n / 10) % 10
        WHEN 0 THEN 'Bamboo'    WHEN 1 THEN 'Canvas'      WHEN 2 THEN 'Ceramic'
        WHEN 3 THEN 'Cotton'    WHEN 4 THEN 'Glass'       WHEN 5 THEN 'Leather'
        WHEN 6 THEN 'Linen'     WHEN 7 THEN 'Oak'         WHEN 8 THEN 'Steel'
        ELSE 'Wool'
    END || ' ' ||
    CASE (n / 100) % 20
        WHEN 0 THEN 'Apron'     WHEN 1 THEN 'Backpack'    WHEN 2 THEN 'Basket'
        WHEN 3 THEN 'Blanket'   WHEN 4 THEN 'Bottle'      WHEN 5 THEN 'Bowl'
        WHEN 6 THEN 'Candle'    WHEN 7 THEN 'Chair'       WHEN 8 THEN 'Cushion'
        WHEN 9 THEN 'Jar'       WHEN 10 THEN 'Journal'    WHEN 11 THEN 'Lamp'
        WHEN 12 THEN 'Mug'      WHEN 13 THEN 'Notebook'   WHEN 14 THEN 'Plate'
        WHEN 15 THEN 'Scarf'    WHEN 16 THEN 'Shelf'      WHEN 17 THEN 'Stool'
        WHEN 18 THEN 'Tote'     ELSE 'Tray'
    END,
    (2 + (n * 37) % 150) * 100 + 99,
    CASE WHEN n % 10 = 0 THEN 0 ELSE 1 + (n * 13) % 200 END,
    date('2024-12-' || substr(CAST(101 + (n - 1) * 28 / 2000 AS TEXT), 2))
FROM seq;
