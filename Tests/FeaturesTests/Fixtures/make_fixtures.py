"""Makes the scikit-learn reference fixtures for lmprobe's Features tests (TF-IDF, and RidgeClassifierCV on it).

Run from anywhere:  python3 Tests/FeaturesTests/Fixtures/make_fixtures.py
Needs scikit-learn (python3 -m pip install scikit-learn); the tests only read the committed JSON it writes.
"""
import json
import os

import numpy as np
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import RidgeClassifierCV

HERE = os.path.dirname(os.path.abspath(__file__))

# Hand-written edge cases: punctuation, apostrophes, underscores, digits, accents (precomposed and combining),
# non-Latin scripts, numeric characters (½ ² Ⅻ), one-letter words, and a document with no tokens at all.
EDGE = [
    "Don't stop-believing!! It's GREAT, isn't it? a b c",
    "snake_case __init__ x_y 3.14 42 007 I a",
    "Café naïve ÉCOLE straße Straße ΣΊΣΥΦΟΣ",
    "cafe\u0301 combining e\u0301e\u0301 marks",
    "数字 一二三 ½ ² Ⅻ Ⅻx 12½",
    "  tabs\tand\nnewlines   everywhere  ",
    "a , . !",
    "great great great film film",
]

POS = "great charming classic fantastic exciting strong happy wonderful moving brilliant".split()
NEG = "boring sad terrible flawed dull weak awful tedious bland messy".split()
NEUTRAL = "the movie film this is was story acting plot and of a it with but very".split()


def sentences(rng, count):
    docs, labels = [], []
    for _ in range(count):
        label = int(rng.integers(0, 3))
        words = []
        for _ in range(int(rng.integers(4, 12))):
            r = rng.random()
            if label == 2 or r < 0.55:
                words.append(NEUTRAL[int(rng.integers(len(NEUTRAL)))])
            elif label == 0:
                words.append(POS[int(rng.integers(len(POS)))])
            else:
                words.append(NEG[int(rng.integers(len(NEG)))])
        docs.append(" ".join(words).capitalize() + rng.choice([".", "!", " ...", "?"]))
        labels.append(label)
    return docs, labels


def sparse_rows(m):
    m = m.tocsr()
    m.sort_indices()
    return [{"indices": m.indices[m.indptr[i]:m.indptr[i + 1]].tolist(),
             "values": m.data[m.indptr[i]:m.indptr[i + 1]].tolist()} for i in range(m.shape[0])]


def tfidf_case(train, test, **kw):
    v = TfidfVectorizer(ngram_range=(1, 2), **kw)
    xtr = v.fit_transform(train)
    xte = v.transform(test)
    vocab = sorted(v.vocabulary_.items(), key=lambda kv: kv[1])
    assert [i for _, i in vocab] == list(range(len(vocab)))
    return v, xtr, xte, {"options": {k: v for k, v in kw.items()}, "vocabulary": [t for t, _ in vocab],
                         "idf": v.idf_.tolist(), "train_rows": sparse_rows(xtr), "test_rows": sparse_rows(xte)}


def main():
    rng = np.random.default_rng(20210101)
    gen_train, gen_labels = sentences(rng, 36)
    gen_test, gen_test_labels = sentences(rng, 10)
    train = EDGE + gen_train
    train_labels = [i % 3 for i in range(len(EDGE))] + gen_labels
    test = ["An unseen zebra sentence!", "", "GREAT film, great Story", "ÉCOLE café\u0301 ½"] + gen_test
    test_labels = [0, 2, 0, 1] + gen_test_labels

    out = {"sklearn_version": sklearn.__version__, "train": train, "test": test,
           "train_labels": train_labels, "test_labels": test_labels, "cases": []}
    _, xtr, xte, case = tfidf_case(train, test)
    out["cases"].append(case)
    out["cases"].append(tfidf_case(train, test, min_df=2)[3])
    out["cases"].append(tfidf_case(train, test, min_df=0.05)[3])

    alphas = [0.01, 0.1, 1.0, 10.0]
    ridge = {}
    for name, labels in [("multiclass", train_labels), ("binary", [int(y == 0) for y in train_labels])]:
        clf = RidgeClassifierCV(alphas=alphas).fit(xtr, labels)
        dec = clf.decision_function(xte)
        ridge[name] = {"labels": labels, "alpha": float(clf.alpha_), "best_score": float(clf.best_score_),
                       "decision": np.atleast_2d(dec.T).T.tolist() if dec.ndim == 2 else [[x] for x in dec.tolist()],
                       "predictions": clf.predict(xte).tolist()}
    out["ridge"] = {"alphas": alphas, **ridge}

    with open(os.path.join(HERE, "tfidf_sklearn.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
    print("wrote tfidf_sklearn.json:", len(case["vocabulary"]), "terms,", len(train), "train docs")


if __name__ == "__main__":
    main()
