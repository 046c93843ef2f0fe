-- Demo order history: 100,000 orders (ids 1..100000) and 200,000 order
-- lines, generated deterministically (no random()).
--
-- orders
--   customer_id 1 + (n * 7919) % 20000: 7919 is coprime with 20000, so every
--               customer gets exactly 5 orders
--   created_at  2025-07-01 .. 2026-10-28, growing with the id (all after
--               every sign-up date), see seed_customers for the date() trick
--   status      every 25th order cancelled, otherwise by age: delivered,
--               then the most recent ones shipped, paid, pending
WITH RECURSIVE seq (n) AS (
    SELECT 1
    UNION ALL
    SELECT n + 1 FROM seq WHERE n < 100000
),
src AS (
    SELECT n, 168 + (n - 1) * 448 / 100000 AS d
    FROM seq
)
INSERT INTO orders (id, customer_id, status, created_at)
SELECT
    n,
    1 + (n * 7919) % 20000,
    CASE
        WHEN n % 25 = 0 THEN 'cancelled'
        WHEN n <= 97000 THEN 'delivered'
        WHEN n <= 98500 THEN 'shipped'
        WHEN n <= 99500 THEN 'paid'
        ELSE 'pending'
    END,
    date(
        CAST(2025 + (d / 28) / 12 AS TEXT)
        || '-' || substr(CAST(101 + (d / 28) % 12 AS TEXT), 2)
        || '-' || substr(CAST(101 + d % 28 AS TEXT), 2)
    )
FROM src;

-- order_items: 1 + id % 3 lines per order (1, 2 or 3, 200,000 in total),
-- products 1..1900 only, at the current catalogue price.
WITH line_numbers (line_no) AS (
    VALUES (1), (2), (3)
)
INSERT INTO order_items (order_id, line_no, product_id, quantity, unit_price_cents)
SELECT
    o.id,
    ln.line_no,
    p.id,
    1 + (o.id + ln.line_no) % 4,
    p.price_cents
FROM orders AS o
JOIN line_numbers AS ln ON ln.line_no <= 1 + o.id % 3
JOIN products AS p ON p.id = 1 + (o.id * 37 + ln.line_no * 101) % 1900
WHERE o.id BETWEEN 1 AND 100000;
