CREATE INDEX orders_customer_id_idx ON orders (customer_id);
DROP INDEX orders_customer_id_created_at_idx;
