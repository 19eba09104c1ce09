#!/usr/bin/env python3
"""The peer of `lmprobe bench probe`: scikit-learn's RidgeClassifierCV (exact LOO over the same alphas) on data of
the same shape and distribution (class means ~ N(0, 0.1²) plus unit Gaussian noise, float32, labels i mod K).

    python peer_ridge.py --n 6920 --d 8192 [--classes 2] [--alphas 1e-3,...] [--threads 2] [--seed 1]
    python peer_ridge.py --npy X.npy --labels labels.npy [--alphas ...] [--threads 2]

The second form fits a file instead: the float16 fixture of `lmprobe bench probe --wide-fixture X.npy --wide-labels
labels.npy` (the full-vocabulary probe), read whole and converted to float32 as sklearn needs it; load_seconds is
the read, seconds the fit (lmprobe's streamed figure includes its reads: compare against load + fit).
--standardize z-scores the columns first (StandardScaler, in place, inside the timed fit), as lmprobe's probe does
by default (bench probe --wide-fixture fits through the probe path): the same problem, so the same λ.

Prints one JSON object: seconds (fit only, data already in memory as float32, as lmprobe's benchmark times it) and
the process CPU seconds (all threads: the figure load does not inflate), the peak resident memory of the process,
the chosen alpha, the versions and the BLAS threadpool numpy/scipy used (its kernel: "architecture").
"""
import argparse, json, os, resource, time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=6920)
    ap.add_argument("--d", type=int, default=2048)
    ap.add_argument("--classes", type=int, default=2)
    ap.add_argument("--alphas", default=",".join("%g" % a for a in np.logspace(-3, 3, 13)))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--npy", help="fit this .npy (n × d) instead of random data; needs --labels")
    ap.add_argument("--labels", help="with --npy: the labels (.npy of integers)")
    ap.add_argument("--standardize", action="store_true", help="z-score the columns before the fit (timed with it)")
    a = ap.parse_args()
    if (a.npy is None) != (a.labels is None):
        ap.error("--npy and --labels go together")
    from threadpoolctl import threadpool_info, threadpool_limits
    import sklearn
    from sklearn.linear_model import RidgeClassifierCV

    alphas = [float(s) for s in a.alphas.split(",")]
    load_seconds = None
    if a.npy:
        start = time.perf_counter()
        x = np.load(a.npy).astype(np.float32, copy=False)
        labels = np.load(a.labels)
        load_seconds = time.perf_counter() - start
        if x.ndim != 2 or labels.shape != (x.shape[0],):
            ap.error(f"{a.npy} is {x.shape}, {a.labels} is {labels.shape}: need n × d and n labels")
        a.n, a.d, a.classes = x.shape[0], x.shape[1], int(labels.max()) + 1
    else:
        rng = np.random.default_rng(a.seed)
        labels = np.arange(a.n) % a.classes
        means = rng.normal(0, 0.1, size=(a.classes, a.d)).astype(np.float32)
        x = rng.normal(0, 1, size=(a.n, a.d)).astype(np.float32) + means[labels]
    with threadpool_limits(limits=a.threads):
        start, cpu = time.perf_counter(), time.process_time()
        if a.standardize:
            from sklearn.preprocessing import StandardScaler
            x = StandardScaler(copy=False).fit_transform(x)
        clf = RidgeClassifierCV(alphas=alphas).fit(x, labels)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
        pools = [{k: p.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
                 for p in threadpool_info()]
    print(json.dumps({"peer": "sklearn RidgeClassifierCV", "n": a.n, "d": a.d, "classes": a.classes,
                      "alphas": alphas, "alpha": float(clf.alpha_), "seconds": seconds, "cpu_seconds": cpu_seconds,
                      "train_accuracy": float(clf.score(x, labels)), "sklearn": sklearn.__version__,
                      "load_seconds": load_seconds, "file": a.npy, "standardized": a.standardize,
                      "peak_resident_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      "numpy": np.__version__, "threadpools": pools}, sort_keys=True))


if __name__ == "__main__":
    main()
