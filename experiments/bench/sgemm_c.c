/* Reference for `lmprobe bench gemm`: the same square sgemm called directly from C.
 * Build and run: make bench-c   (prints GFLOP/s for n = 256..2048, best of repeated runs). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    if (threads > 0) openblas_set_num_threads(threads);
    int sizes[] = {256, 512, 1024, 2048};
    for (int s = 0; s < 4; s++) {
        int n = sizes[s];
        float *a = aligned_alloc(64, sizeof(float) * n * n), *b = aligned_alloc(64, sizeof(float) * n * n),
              *c = aligned_alloc(64, sizeof(float) * n * n);
        for (long i = 0; i < (long)n * n; i++) { a[i] = (float)rand() / RAND_MAX - 0.5f; b[i] = (float)rand() / RAND_MAX - 0.5f; }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        double best = 1e30, start = now();
        int reps = 0;
        while (reps < 3 || now() - start < 0.5) {
            double t0 = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
            double dt = now() - t0;
            if (dt < best) best = dt;
            reps++;
        }
        printf("%6d  %7d  %9.1f\n", n, openblas_get_num_threads(), 2.0 * n * n * n / best / 1e9);
        free(a); free(b); free(c);
    }
    return 0;
}
