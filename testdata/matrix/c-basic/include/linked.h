/* Reached as <linked.h> through -Ilinkinc, where linkinc is a symlink to include. */
#ifndef LINKED_H
#define LINKED_H
#define LINKED_VALUE 42
#endif
