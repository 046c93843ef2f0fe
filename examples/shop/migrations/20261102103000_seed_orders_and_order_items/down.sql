-- Remove exactly the seeded order lines and orders (order ids 1..100000).
DELETE FROM order_items WHERE order_id BETWEEN 1 AND 100000;
DELETE FROM orders WHERE id BETWEEN 1 AND 100000;
