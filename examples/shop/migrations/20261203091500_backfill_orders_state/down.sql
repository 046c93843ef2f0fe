UPDATE orders SET state = NULL;
