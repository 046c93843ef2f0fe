-- "Latest orders of a customer" (customer page, order history) filters on
-- customer_id and sorts by created_at. The composite index serves that query
-- and, since customer_id is its leading column, also the foreign key, so the
-- single-column index becomes redundant and is dropped.
CREATE INDEX orders_customer_id_created_at_idx ON orders (customer_id, created_at);
DROP INDEX orders_customer_id_idx;
