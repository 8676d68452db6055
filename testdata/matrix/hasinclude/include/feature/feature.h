/* Probes a header next to itself: "feature_impl.h" resolves relative to this
 * header's directory, not the source's. */
#if __has_include("feature_impl.h")
#define FEATURE_LEVEL 3
#else
#define FEATURE_LEVEL 0
#endif
