// An upper-case .C extension is C++.
template <typename T> T twice(T x) { return x + x; }
int upper_c() { return twice(21); }
