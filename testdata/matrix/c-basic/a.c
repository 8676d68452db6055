const char *msg = "hello foreigner";
