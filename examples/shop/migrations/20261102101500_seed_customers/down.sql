-- Remove exactly the seeded customers (ids 1..20000).
DELETE FROM customers WHERE id BETWEEN 1 AND 20000;
