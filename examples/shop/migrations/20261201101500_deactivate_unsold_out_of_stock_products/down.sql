-- Re-activate the products hidden by up.sql. This is an exact undo: every
-- product was active before (is_active was added with DEFAULT TRUE in
-- add_products_is_active and nothing else changes it), so the inactive rows
-- matching the same condition are exactly the rows up.sql changed.
UPDATE products
SET is_active = TRUE
WHERE is_active = FALSE
  AND stock = 0
  AND NOT EXISTS (
      SELECT 1 FROM order_items AS oi WHERE oi.product_id = products.id
  );
