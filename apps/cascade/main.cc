#include <cstdio>
int main() { std::puts("cascade: under construction"); return 0; }
