#if defined(__has_embed)
#if __has_embed("logo.bin")
#define HAVE_LOGO 1
#endif
#endif
#ifdef HAVE_LOGO
static const unsigned char logo[] = {
#embed "logo.bin"
};
#else
static const unsigned char logo[] = {0};
#endif
