-- Expand step of renaming orders.status to orders.state without downtime:
-- add the new column next to the old one. The application writes both while
-- the next migration copies the existing 100,000 rows; a later contract
-- migration drops status once nothing reads it.
ALTER TABLE orders ADD COLUMN state TEXT;
