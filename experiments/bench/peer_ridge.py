#!/usr/bin/env python3
"""The peer of `lmprobe bench probe`: scikit-learn's RidgeClassifierCV (exact LOO over the same alphas) on data of
the same shape and distribution (class means ~ N(0, 0.1²) plus unit Gaussian noise, float32, labels i mod K).

    python peer_ridge.py --n 6920 --d 8192 [--classes 2] [--alphas 1e-3,...] [--threads 2] [--seed 1]

Prints one JSON object: seconds (fit only, data already in memory as float32, as lmprobe's benchmark times it) and
the process CPU seconds (all threads: the figure load does not inflate),
the chosen alpha, the versions and the BLAS threadpool numpy/scipy used.
"""
import argparse, json, os, time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=6920)
    ap.add_argument("--d", type=int, default=2048)
    ap.add_argument("--classes", type=int, default=2)
    ap.add_argument("--alphas", default=",".join("%g" % a for a in np.logspace(-3, 3, 13)))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    from threadpoolctl import threadpool_info, threadpool_limits
    import sklearn
    from sklearn.linear_model import RidgeClassifierCV

    alphas = [float(s) for s in a.alphas.split(",")]
    rng = np.random.default_rng(a.seed)
    labels = np.arange(a.n) % a.classes
    means = rng.normal(0, 0.1, size=(a.classes, a.d)).astype(np.float32)
    x = rng.normal(0, 1, size=(a.n, a.d)).astype(np.float32) + means[labels]
    with threadpool_limits(limits=a.threads):
        start, cpu = time.perf_counter(), time.process_time()
        clf = RidgeClassifierCV(alphas=alphas).fit(x, labels)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
        pools = [{k: p.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
                 for p in threadpool_info()]
    print(json.dumps({"peer": "sklearn RidgeClassifierCV", "n": a.n, "d": a.d, "classes": a.classes,
                      "alphas": alphas, "alpha": float(clf.alpha_), "seconds": seconds, "cpu_seconds": cpu_seconds,
                      "train_accuracy": float(clf.score(x, labels)), "sklearn": sklearn.__version__,
                      "numpy": np.__version__, "threadpools": pools}, sort_keys=True))


if __name__ == "__main__":
    main()
