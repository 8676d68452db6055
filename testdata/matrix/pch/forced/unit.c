int main(void) { return X; }
