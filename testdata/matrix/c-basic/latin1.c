/* Latin-1 source: the next string holds the byte 0xE9. */
const char *cafe = "café";
