-- Per-order totals for reporting. Orders without lines show up with zero
-- totals thanks to the LEFT JOIN.
CREATE VIEW order_totals AS
SELECT
    o.id AS order_id,
    o.customer_id,
    o.status,
    o.created_at,
    COUNT(oi.line_no) AS line_count,
    COALESCE(SUM(oi.quantity), 0) AS item_count,
    COALESCE(SUM(oi.quantity * oi.unit_price_cents), 0) AS total_cents
FROM orders AS o
LEFT JOIN order_items AS oi ON oi.order_id = o.id
GROUP BY o.id, o.customer_id, o.status, o.created_at;
