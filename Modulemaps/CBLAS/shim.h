// CBLAS from OpenBLAS. The include directory comes from `pkg-config --cflags openblas`
// (Package.swift names the pkg-config file), so no architecture-specific path is written here.
#include <cblas.h>
