/* Objective-C without Foundation: a root class of its own, #import, and a C header. */
#import <stdio.h>
#import "greeter.h"

__attribute__((objc_root_class))
@interface Greeter {
	int count;
}
+ (int)version;
- (const char *)greeting;
@end

@implementation Greeter
+ (int)version
{
	return 2;
}
- (const char *)greeting
{
	count++;
	return GREETING;
}
@end

int greeter_version(void)
{
	return puts(GREETING) > 0 ? 2 : 0;
}
