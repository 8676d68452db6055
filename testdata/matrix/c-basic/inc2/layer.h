#define LAYER_TWO 2
