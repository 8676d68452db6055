/* Exists, but no source ever #includes it: only __has_include looks at it.
 * A dependency scan (gcc -M) does not list it, yet its absence on the node
 * would change the object. */
#error "optional.h is probed, never included"
