// Objective-C++: a C++ template used from an Objective-C method.
#import "greeter.h"

template <typename T> T twice(T v) { return v + v; }

__attribute__((objc_root_class))
@interface Counter
- (int)twiceOf:(int)v;
@end

@implementation Counter
- (int)twiceOf:(int)v
{
	return twice(v);
}
@end

const char *objcxx_greeting() { return GREETING; }
