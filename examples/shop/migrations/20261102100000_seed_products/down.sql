-- Remove exactly the seeded products (ids 1..2000).
DELETE FROM products WHERE id BETWEEN 1 AND 2000;
