// LAPACKE, the C interface to LAPACK (`pkg-config --cflags lapacke`).
#include <lapacke.h>
#include <stddef.h>

// LAPACK routines LAPACKE does not wrap (Fortran ABI: every argument by reference, hidden string lengths last).
// DSYTRD_SY2SB (LAPACK ≥ 3.7): Qᵀ·A·Q = band matrix of half-bandwidth KD, the BLAS-3 first stage of dsytrd_2stage.
void dsytrd_sy2sb_(const char *uplo, const int *n, const int *kd, double *a, const int *lda, double *ab,
                   const int *ldab, double *tau, double *work, const int *lwork, int *info, size_t uplo_len);
