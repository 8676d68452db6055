#error second/common.h must not be read
