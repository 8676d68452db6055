#import <objcenv.h>

int objc_env(void) { return OBJC_ENV_VALUE; }
