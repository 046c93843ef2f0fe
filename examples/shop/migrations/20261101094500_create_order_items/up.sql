-- Order lines. unit_price_cents is a copy of the product price at the time
-- of the order, so later price changes do not rewrite order history.
CREATE TABLE order_items (
    order_id         INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no          INTEGER NOT NULL,
    product_id       INTEGER NOT NULL REFERENCES products (id),
    quantity         INTEGER NOT NULL,
    unit_price_cents INTEGER NOT NULL,
    PRIMARY KEY (order_id, line_no),
    CONSTRAINT order_items_line_no_check CHECK (line_no > 0),
    CONSTRAINT order_items_quantity_check CHECK (quantity > 0),
    CONSTRAINT order_items_unit_price_cents_check CHECK (unit_price_cents >= 0)
);

-- Supports the foreign key (deleting a product) and "who bought product X".
CREATE INDEX order_items_product_id_idx ON order_items (product_id);
