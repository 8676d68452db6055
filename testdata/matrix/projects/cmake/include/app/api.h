#ifndef APP_API_H
#define APP_API_H
#define APP_EXPORT __attribute__((visibility("default")))
APP_EXPORT int app_run(int argc);
#endif
