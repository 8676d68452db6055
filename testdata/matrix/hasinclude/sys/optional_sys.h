#error "probed through -Isys with angle brackets, never included"
