#import <objcenv.h>

int objcxx_env() { return OBJC_ENV_VALUE; }
