# 1 "preprocessed.c"
# 1 "<built-in>"
# 1 "<command-line>"
# 1 "preprocessed.c"
/* Already preprocessed (distcc's .i inputs): the compiler runs no preprocessor. */
int preprocessed_value(int x)
{
 return x * 6;
}
