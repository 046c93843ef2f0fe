-- The backfill only filled a column its expand step added: empty it again.
UPDATE customers SET email_normalized = NULL;
