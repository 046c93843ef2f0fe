DROP INDEX products_name_idx;
DROP TABLE products;
