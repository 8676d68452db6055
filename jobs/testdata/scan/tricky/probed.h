int probed_header;
