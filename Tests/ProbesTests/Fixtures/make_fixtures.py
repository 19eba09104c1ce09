"""Parity fixtures for lmprobe's Probes module, made with scikit-learn (needed only to regenerate them).

    python3 -m pip install scikit-learn
    cd Tests/ProbesTests/Fixtures && python3 make_fixtures.py

Each case <name> writes <name>_X.npy (float64, n × d), <name>_y.npy (int64 labels 0..K-1) and <name>.json holding
what scikit-learn computed: the chosen alpha / C, coef_ (K' × d, K' = 1 for two classes), intercept_, and the
per-alpha LOO mean squared error (ridge) or per-fold CV accuracies (logistic). The Swift tests read these files and
never import sklearn.
"""
import json
import sys

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV, RidgeClassifierCV
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

ALPHAS = np.logspace(-3, 3, 13)


def make_data(seed, n, d, k, signal, scale_spread=False, offset=0.0):
    """Gaussian classes with random means, plus an offset (so the intercept matters) and optional feature scales."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    rng.shuffle(y)
    means = rng.normal(size=(k, d)) * signal
    X = rng.normal(size=(n, d)) + means[y] + offset
    if scale_spread:
        X *= np.exp(rng.uniform(-2, 2, size=d))
    return X.astype(np.float64), y.astype(np.int64)


def save(name, X, y, info):
    np.save(f"{name}_X.npy", np.ascontiguousarray(X))
    np.save(f"{name}_y.npy", np.ascontiguousarray(y))
    info = dict(info, n=int(X.shape[0]), d=int(X.shape[1]), classes=int(y.max() + 1),
                sklearn_version=sklearn.__version__)
    with open(f"{name}.json", "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")


def ridge_case(name, seed, n, d, k, signal, scoring=None, standardize=False, scale_spread=False):
    X, y = make_data(seed, n, d, k, signal, scale_spread=scale_spread, offset=1.5)
    clf = RidgeClassifierCV(alphas=ALPHAS, scoring=scoring, store_cv_results=(scoring is None))
    model = make_pipeline(StandardScaler(), clf) if standardize else clf
    model.fit(X, y)
    info = dict(kind="ridge", alphas=ALPHAS.tolist(), select="accuracy" if scoring else "squared-error",
                standardize=standardize, alpha=float(clf.alpha_), best_score=float(clf.best_score_),
                coef=np.atleast_2d(clf.coef_).tolist(), intercept=np.atleast_1d(clf.intercept_).tolist(),
                train_accuracy=float(model.score(X, y)))
    if standardize:
        sc = model[0]
        info["scaler_mean"] = sc.mean_.tolist()
        info["scaler_scale"] = sc.scale_.tolist()
    if scoring is None:
        # cv_results_: (n, n_targets, n_alphas) squared LOO errors on the centred ±1 targets.
        mse = clf.cv_results_.reshape(n, -1, len(ALPHAS)).mean(axis=(0, 1))
        info["loo_mse"] = mse.tolist()
        order = np.sort(mse)
        gap = (order[1] - order[0]) / order[0]
        print(f"{name}: alpha={clf.alpha_:g}  relative gap to runner-up {gap:.2e}", file=sys.stderr)
        assert gap > 1e-6, f"{name}: alpha choice is a near-tie; change the seed"
    else:
        print(f"{name}: alpha={clf.alpha_:g}  best accuracy {clf.best_score_:.4f}", file=sys.stderr)
    save(name, X, y, info)


def logistic_case(name, seed, n, d, k, signal, C):
    X, y = make_data(seed, n, d, k, signal, offset=0.5)
    lr = LogisticRegression(C=C, tol=1e-12, max_iter=100000).fit(X, y)
    proba = lr.predict_proba(X)
    logloss = float(-np.mean(np.log(proba[np.arange(n), y])))
    info = dict(kind="logistic", C=C, coef=np.atleast_2d(lr.coef_).tolist(),
                intercept=np.atleast_1d(lr.intercept_).tolist(), train_accuracy=float(lr.score(X, y)),
                train_log_loss=logloss)
    print(f"{name}: C={C} n_iter={lr.n_iter_}", file=sys.stderr)
    save(name, X, y, info)


def logistic_cv_case(name, seed, n, d, k, signal, folds=5):
    X, y = make_data(seed, n, d, k, signal, offset=0.5)
    cv = StratifiedKFold(n_splits=folds)
    lr = LogisticRegressionCV(Cs=10, cv=cv, tol=1e-10, max_iter=100000, scoring="accuracy", l1_ratios=(0.0,),
                              use_legacy_attributes=True).fit(X, y)
    test_folds = np.empty(n, dtype=np.int64)
    for f, (_, test) in enumerate(cv.split(X, y)):
        test_folds[test] = f
    scores = np.asarray(lr.scores_[lr.classes_[1] if k == 2 else lr.classes_[0]]).reshape(folds, -1)  # (folds, Cs)
    info = dict(kind="logistic_cv", folds=folds, Cs=lr.Cs_.tolist(), C=float(np.atleast_1d(lr.C_)[0]),
                fold_accuracy=scores.tolist(), mean_accuracy=scores.mean(axis=0).tolist(),
                test_folds=test_folds.tolist(), coef=np.atleast_2d(lr.coef_).tolist(),
                intercept=np.atleast_1d(lr.intercept_).tolist(), train_accuracy=float(lr.score(X, y)))
    print(f"{name}: C={info['C']:g} mean acc {np.round(info['mean_accuracy'], 3)}", file=sys.stderr)
    save(name, X, y, info)


if __name__ == "__main__":
    # Ridge: n > d (eigendecomposition of XᵀX) and n ≤ d (of XXᵀ), binary and 5-class.
    ridge_case("ridge_binary_tall", seed=1, n=80, d=12, k=2, signal=0.35)
    ridge_case("ridge_binary_wide", seed=4, n=30, d=60, k=2, signal=0.3)
    ridge_case("ridge_multi_tall", seed=3, n=150, d=10, k=5, signal=0.5)
    ridge_case("ridge_multi_wide", seed=4, n=40, d=70, k=5, signal=0.4)
    ridge_case("ridge_multi_square", seed=5, n=25, d=25, k=5, signal=0.6)
    # LOO accuracy selection (5-class: sklearn's binary LOO accuracy is degenerate, see Probes.swift).
    ridge_case("ridge_multi_accuracy", seed=6, n=120, d=15, k=5, signal=0.3, scoring="accuracy")
    # StandardScaler then ridge, on features with very different scales.
    ridge_case("ridge_multi_standardized", seed=7, n=100, d=20, k=5, signal=0.4, standardize=True,
               scale_spread=True)
    # Logistic regression at fixed C, and with stratified 5-fold CV over logspace(-4, 4, 10).
    logistic_case("logistic_multi", seed=8, n=150, d=8, k=5, signal=0.6, C=0.5)
    logistic_case("logistic_binary", seed=9, n=100, d=6, k=2, signal=0.5, C=2.0)
    logistic_cv_case("logistic_cv_multi", seed=10, n=120, d=6, k=3, signal=0.5)
