-- Data fix: the catalogue import left products online that are out of stock
-- and have never been ordered. Hide them from the storefront. Rows are kept,
-- so the products can be re-activated once restocked.
UPDATE products
SET is_active = FALSE
WHERE is_active = TRUE
  AND stock = 0
  AND NOT EXISTS (
      SELECT 1 FROM order_items AS oi WHERE oi.product_id = products.id
  );
