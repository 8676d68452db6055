/* A root class without the attribute: clang warns, with a note. */
@interface Bare
@end

@implementation Bare
@end
