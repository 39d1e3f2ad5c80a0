# One venv for everything; every target installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# torchaudio 2.11 needs this torch build; both install from pip's cache/disk on the project machines.
TORCH_PINS := torch==2.14.1 torchaudio==2.11.0
STAMP := $(VENV)/.installed

.PHONY: install test test-fast kws kws-quick kws-augmented kws-memorise ctc sed bench bench-quick lint typecheck docs \
	docs-quick screenshots release clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# The frameworks extra (Lightning, transformers, datasets) is for examples/ and its tests; the
# torch pins ride along so that pip never swaps torch or torchaudio for the frameworks' sake.
$(STAMP): $(PY) pyproject.toml
	$(PIP) install -q $(TORCH_PINS)
	$(PIP) install -q -e ".[dev,recipe,speech,frameworks,docs,export,sed]" $(TORCH_PINS)
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -ra

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

# The recipe's comparison: none / waveform / spectrogram mixup (both after RMS normalisation),
# 0 % and 40 % label noise, 3 seeds, TC-ResNet8 trained to convergence without augmentation;
# generates the built-in data on first use, writes runs/kws/compare/results.md and figures.
# Jobs x threads follow the machine (one job per GPU, else one per core).
kws: $(STAMP)
	$(PY) -m recipes.speech_commands.compare

kws-quick: $(STAMP)
	$(PY) -m recipes.speech_commands.compare --quick

# The small CNN trained 8 epochs with time shift and background noise, alpha = 0.2: the
# augmentation regularises, nothing is memorised, and mixup loses (24 runs, ~18 min on 2 cores).
KWS_AUGMENTED := --set model.arch=small --set model.width=12 --set model.dropout=0.1 \
	--set train.epochs=8 --set augment.time_shift_ms=100.0 --set augment.noise_prob=0.8 \
	--set mixup.alpha=0.2 --methods none waveform waveform+rms spectrogram

kws-augmented: $(STAMP)
	$(PY) -m recipes.speech_commands.compare --out runs/kws/compare-augmented $(KWS_AUGMENTED)

# The memorising regime with the CNN at width 24 (137 k parameters), five methods
# (30 runs, 97 min on 2 cores).
KWS_MEMORISE := --set model.arch=small --set model.width=24 --set train.epochs=30 \
	--methods none waveform+rms spectrogram spectrogram+rms spectrogram-db

kws-memorise: $(STAMP)
	$(PY) -m recipes.speech_commands.compare --out runs/kws/compare-memorise $(KWS_MEMORISE)

# CTC with and without mixup (examples/ctc_mixup.py): a recogniser of synthesised multi-word
# utterances, word error rates of no mixing, waveform and spectrogram mixup (mixed CTC losses),
# 2 seeds; writes runs/ctc/full/metrics.json and wer.png, resumes from its checkpoints.
ctc: $(STAMP)
	$(PY) examples/ctc_mixup.py

# Sound event detection with frame targets (examples/sed_frames.py): a CRNN with and without
# frame-aware mixup on the built-in clips, 3 paired seeds, scored with sed_eval (event-based and
# frame F1) and sed_scores_eval (PSDS); writes examples/results/sed/ (results.md, metrics.json,
# sed.png) and prints its wall time (10-24 min measured on the shared 2-core machine). Its quick
# version runs in `make test`.
sed: $(STAMP)
	$(PY) examples/sed_frames.py --out examples/results/sed

# Peers for the benchmark: torchvision must match torch (0.29.1 <-> 2.14.1), and the torch pins
# ride along so that pip never swaps torch or torchaudio for the peers' sake.
BENCH_PEERS := "timm>=0.9" "torch-audiomentations>=0.11" torchvision==0.29.1

bench: $(STAMP)
	$(PIP) install -q -e ".[bench]" $(BENCH_PEERS) $(TORCH_PINS)
	$(PY) -m benchmarks.bench

bench-quick: $(STAMP)
	$(PY) -m benchmarks.bench --quick --out $${TMPDIR:-/tmp}/audiomix-bench

# Formatting and lint (line length 100 enforced), as CI runs them.
lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

# mypy over audiomix/ (configured in pyproject.toml). Not yet in CI: it runs there once the
# package type-checks clean.
typecheck: $(STAMP)
	$(VENV)/bin/mypy

# The documentation site: API reference from __all__, the gallery (every docs/gallery/plot_*.py,
# executed), the guides; warnings are errors. docs-quick runs the gallery in its quick mode.
SPHINX := MPLBACKEND=Agg $(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

docs: $(STAMP)
	$(SPHINX)
	@echo "docs: open docs/_build/html/index.html"

docs-quick: $(STAMP)
	AUDIOMIX_DOCS_QUICK=1 $(SPHINX)

# Headless-Chromium screenshots of the built site (index, an API page, a gallery page) into
# docs/screenshots/; skipped with a message when Chromium is not installed.
screenshots: $(STAMP)
	$(PY) docs/screenshots.py $(SCREENSHOT_ARGS)

# sdist + wheel, twine check --strict, the wheel smoke-tested in a fresh venv with no extras.
release: $(STAMP)
	PY=$(PY) TORCH_PINS="$(TORCH_PINS)" bash .ci/release.sh

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build dist *.egg-info docs/_build docs/api \
		docs/auto_gallery
