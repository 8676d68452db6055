/* Real-mode boot code style: built with -m16/-m32, freestanding, no libc. */
#include <stddef.h>

struct biosregs {
	unsigned int eax, ebx, ecx, edx;
};

static unsigned char io_delay_port = 0x80;

int a20_test(struct biosregs *r, size_t loops)
{
	size_t i;
	unsigned int v = 0;

	for (i = 0; i < loops; i++)
		v += r->eax ^ (unsigned int)i;
	return (int)(v + io_delay_port);
}
