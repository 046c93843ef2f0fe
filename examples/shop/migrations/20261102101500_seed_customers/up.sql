-- Demo customers: 20,000 customers with ids 1..20000, generated
-- deterministically (no random()).
--   full_name  10 first names x 10 last names
--   email      unique thanks to the id suffix, every 4th address was typed
--              with capitals (Anna.Schmidt4@Example.com), which is what the
--              later customers.email_normalized column is about
--   created_at sign-up dates spread over 2025-01-01 .. 2025-06-28
--
-- Dates are built as 'YYYY-MM-DD' strings from a day number d (synthetic
-- 28-day months keep every date valid) and passed through date(...): a
-- built-in function on SQLite and a function-style cast to DATE on
-- PostgreSQL, so no dialect-specific cast syntax is needed.
WITH RECURSIVE seq (n) AS (
    SELECT 1
    UNION ALL
    SELECT n + 1 FROM seq WHERE n < 20000
),
src AS (
    SELECT
        n,
        (n - 1) * 168 / 20000 AS d,
        CASE n % 10
            WHEN 0 THEN 'Anna'   WHEN 1 THEN 'Ben'    WHEN 2 THEN 'Clara'
            WHEN 3 THEN 'David'  WHEN 4 THEN 'Emma'   WHEN 5 THEN 'Felix'
            WHEN 6 THEN 'Greta'  WHEN 7 THEN 'Hugo'   WHEN 8 THEN 'Ida'
            ELSE 'Jonas'
        END AS first_name,
        CASE (n / 10) % 10
            WHEN 0 THEN 'Schmidt'  WHEN 1 THEN 'Meyer'    WHEN 2 THEN 'Fischer'
            WHEN 3 THEN 'Weber'    WHEN 4 THEN 'Wagner'   WHEN 5 THEN 'Becker'
            WHEN 6 THEN 'Hoffmann' WHEN 7 THEN 'Schulz'   WHEN 8 THEN 'Koch'
            ELSE 'Richter'
        END AS last_name
    FROM seq
)
INSERT INTO customers (id, email, full_name, country, created_at)
SELECT
    n,
    CASE
        WHEN n % 4 = 0
            THEN first_name || '.' || last_name || CAST(n AS TEXT) || '@Example.com'
        ELSE lower(first_name || '.' || last_name) || CAST(n AS TEXT) || '@example.com'
    END,
    first_name || ' ' || last_name,
    CASE (n / 100) % 10
        WHEN 5 THEN 'AT' WHEN 6 THEN 'AT' WHEN 7 THEN 'CH'
        WHEN 8 THEN 'NL' WHEN 9 THEN 'FR'
        ELSE 'DE'
    END,
    date(
        CAST(2025 + (d / 28) / 12 AS TEXT)
        || '-' || substr(CAST(101 + (d / 28) % 12 AS TEXT), 2)
        || '-' || substr(CAST(101 + d % 28 AS TEXT), 2)
    )
FROM src;
