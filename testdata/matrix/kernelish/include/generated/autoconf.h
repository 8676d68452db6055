/* Automatically generated file; DO NOT EDIT (a tiny stand-in for Kconfig output). */
#define CONFIG_SMP 1
#define CONFIG_NR_CPUS 64
#define CONFIG_HZ 250
#define CONFIG_MATRIX_FEATURE 1
