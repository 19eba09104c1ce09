#!/usr/bin/env python3
"""Fetch the paper's SST-2 and SST-5 sentence splits into data/sst/ (git-ignored). Verified, atomic, idempotent.

The files are the ones the paper's probe code used: NLPrinceton/text_embedding on GitHub, pinned to one commit,
folder data-documents/ (tab-separated `label<TAB>sentence` lines, PTB-tokenised, despite the .csv names):

  sst_train.csv       -> data/sst/sst_train.tsv        SST-2 train, 6,920 sentences, labels 0/1
  sst_test.csv        -> data/sst/sst_test.tsv         SST-2 test,  1,821 sentences
  sst_fine_train.csv  -> data/sst/sst_fine_train.tsv   SST-5 train, 8,544 sentences, labels 0-4
  sst_fine_test.csv   -> data/sst/sst_fine_test.tsv    SST-5 test,  2,210 sentences

Every file is checked against the size and SHA-256 committed below before anything is written; all four are
downloaded into a staging folder next to the destination and only then renamed into place, one file at a time, so
the destination holds verified files or nothing. A second run finds the verified files and does nothing.

Usage:  python3 experiments/fetch_sst.py [--dest DIR] [--base-url URL]      (`make sst`)
  --dest DIR        where the .tsv files go (default: data/sst in the checkout)
  --base-url URL    where the four .csv files are fetched from (default: the pinned GitHub commit); also the
                    environment variable LMPROBE_SST_BASE_URL. A file:// URL serves a local mirror (the tests do).
"""
import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = "NLPrinceton/text_embedding"
COMMIT = "ee269727863982669ffb95c984c4220c1fba2834"
DEFAULT_BASE_URL = f"https://raw.githubusercontent.com/{REPO}/{COMMIT}/data-documents/"
BROWSE_URL = f"https://github.com/{REPO}/tree/{COMMIT}/data-documents"
TIMEOUT_SECONDS = 60

# (remote name, local name, bytes, SHA-256) of the files at COMMIT.
FILES = [
    ("sst_train.csv", "sst_train.tsv", 745764, "cd1ea03415c2dec5b4256a1c03bd20c6c89a91ea7b5a65651acc30faf128c2f8"),
    ("sst_test.csv", "sst_test.tsv", 195383, "a79dcde91b0940f8e7fc8f42836a8caf7b0b9fe206632bfc546fd14c70c03a34"),
    ("sst_fine_train.csv", "sst_fine_train.tsv", 911362, "0ea5a92f9d465d9e01d8add3bb8b8066ed5a2d30a87871488886816b9fa5d281"),
    ("sst_fine_test.csv", "sst_fine_test.tsv", 235844, "44a5f5d06fb5975ad9b053c3a5d49e9527adc1b462a9e32ec6f97c467b9261be"),
]


class FetchError(Exception):
    pass


def by_hand(dest):
    names = ", ".join(f"{remote} as {os.path.join(dest, local)}" for remote, local, _, _ in FILES)
    return (f"to place them by hand, download from {BROWSE_URL} (or any copy of that commit) and save {names}; "
            f"then run `make sst` again to verify them")


def mismatch(data, size, sha):
    """Why `data` is not the expected file, or None."""
    if len(data) != size:
        return f"{len(data)} bytes, expected {size} (truncated or a different file)"
    got = hashlib.sha256(data).hexdigest()
    if got != sha:
        return f"SHA-256 {got}, expected {sha} (corrupted or a different file)"
    return None


def download(url, size):
    """The bytes at `url`, reading at most size + 1 bytes (so a wrong or hostile server cannot fill the disk)."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as r:
            return r.read(size + 1)
    except urllib.error.HTTPError as e:
        raise FetchError(f"{url}: HTTP {e.code} {e.reason}")
    except urllib.error.URLError as e:
        raise FetchError(f"{url}: cannot download ({e.reason}): offline, or the host is unreachable")
    except (OSError, ValueError) as e:
        raise FetchError(f"{url}: cannot download ({e})")


def present(dest):
    """The local files already in place and verified; an existing file that does not verify is an error."""
    done = []
    for _, local, size, sha in FILES:
        path = os.path.join(dest, local)
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            why = mismatch(f.read(size + 1), size, sha)
        if why:
            raise FetchError(f"{path} exists but is not the paper's file: {why}; move it away and run `make sst` "
                             f"again (or point --sst-dir at your own files)")
        done.append(local)
    return done


def fetch(dest, base_url):
    done = present(dest)
    if len(done) == len(FILES):
        print(f"fetch_sst: {dest}: the four SST files are present and verified")
        return
    if not base_url.endswith("/"):
        base_url += "/"
    parent = os.path.dirname(os.path.abspath(dest))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".sst-", dir=parent)
    try:
        errors = []
        for remote, local, size, sha in FILES:
            if local in done:
                continue
            url = base_url + remote
            try:
                data = download(url, size)   # an unreachable host stops here: the other files would fail alike
            except FetchError as e:
                raise FetchError(f"{e}; nothing was written to {dest}")
            why = mismatch(data, size, sha)
            if why:
                errors.append(f"{url}: {why}")
                continue
            with open(os.path.join(staging, local), "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        if errors:
            raise FetchError("; ".join(errors) + f"; nothing was written to {dest}")
        os.makedirs(dest, exist_ok=True)
        for _, local, _, _ in FILES:
            if local not in done:
                os.chmod(os.path.join(staging, local), 0o644)
                os.replace(os.path.join(staging, local), os.path.join(dest, local))
                print(f"fetch_sst: {os.path.join(dest, local)} (verified)")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description="Fetch and verify the paper's SST-2/SST-5 splits (make sst).")
    p.add_argument("--dest", default=os.path.join(ROOT, "data", "sst"), help="destination folder (default data/sst)")
    p.add_argument("--base-url", default=os.environ.get("LMPROBE_SST_BASE_URL") or DEFAULT_BASE_URL,
                   help="where sst_train.csv, … are fetched from (default: the pinned GitHub commit; "
                        "env LMPROBE_SST_BASE_URL); file:// serves a local mirror")
    a = p.parse_args()
    try:
        fetch(a.dest, a.base_url)
    except FetchError as e:
        print(f"fetch_sst: {e}", file=sys.stderr)
        print(f"fetch_sst: {by_hand(a.dest)}", file=sys.stderr)
        sys.exit(1)
    except OSError as e:
        print(f"fetch_sst: {e.filename or a.dest}: {e.strerror or e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
