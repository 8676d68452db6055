/* "quoteonly.h" comes from -iquote; <systemish.h> from -isystem; <after.h> from -idirafter. */
#include "quoteonly.h"
#include <systemish.h>
#include <after.h>

int iquote_value(void) { return QUOTE_ONLY + SYSTEMISH + AFTER; }
