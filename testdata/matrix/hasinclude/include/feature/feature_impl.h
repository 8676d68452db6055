#error "feature_impl.h is probed, never included"
