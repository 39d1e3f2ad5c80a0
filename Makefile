# One venv for everything; every target installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# torchaudio 2.11 needs this torch build; both install from pip's cache/disk on the project machines.
TORCH_PINS := torch==2.14.1 torchaudio==2.11.0
STAMP := $(VENV)/.installed

.PHONY: install test test-fast kws kws-quick kws-memorise bench bench-quick lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# The frameworks extra (Lightning, transformers, datasets) is for examples/ and its tests; the
# torch pins ride along so that pip never swaps torch or torchaudio for the frameworks' sake.
$(STAMP): $(PY) pyproject.toml
	$(PIP) install -q $(TORCH_PINS)
	$(PIP) install -q -e ".[dev,recipe,speech,frameworks,docs,export]" $(TORCH_PINS)
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -ra

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

# The recipe's comparison (none / waveform / spectrogram mixup, 0 % and 40 % label noise, 3 seeds):
# generates the built-in data on first use, writes runs/kws/compare/results.md and figures.
kws: $(STAMP)
	$(PY) -m recipes.speech_commands.compare

kws-quick: $(STAMP)
	$(PY) -m recipes.speech_commands.compare --quick

# The regime where mixup shows its effect on label noise: no augmentation, no dropout, a wider
# CNN trained long enough to memorise flipped labels, alpha = 1 (30 runs, 97 min on 2 cores).
KWS_MEMORISE := --set model.width=24 --set model.dropout=0.0 --set train.epochs=30 \
	--set augment.noise_prob=0.0 --set augment.time_shift_ms=0.0 --set mixup.alpha=1.0 \
	--methods none waveform+rms spectrogram spectrogram+rms spectrogram-db --noise 0.0 0.4 --seeds 0 1 2

kws-memorise: $(STAMP)
	$(PY) -m recipes.speech_commands.compare --out runs/kws/compare-memorise $(KWS_MEMORISE)

# Peers for the benchmark: torchvision must match torch (0.29.1 <-> 2.14.1), and the torch pins
# ride along so that pip never swaps torch or torchaudio for the peers' sake.
BENCH_PEERS := "timm>=0.9" "torch-audiomentations>=0.11" torchvision==0.29.1

bench: $(STAMP)
	$(PIP) install -q -e ".[bench]" $(BENCH_PEERS) $(TORCH_PINS)
	$(PY) -m benchmarks.bench

bench-quick: $(STAMP)
	$(PY) -m benchmarks.bench --quick --out $${TMPDIR:-/tmp}/audiomix-bench

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
