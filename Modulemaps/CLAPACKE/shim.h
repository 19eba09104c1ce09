// LAPACKE, the C interface to LAPACK (`pkg-config --cflags lapacke`).
#include <lapacke.h>
