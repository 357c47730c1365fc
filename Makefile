# reluc: `make demo` builds and inspects the example specs; `make test` runs the suite.
# Both create a virtualenv in .venv on first use (needs Python 3.11+ and network access
# to PyPI once).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
RELUC  := $(BIN)/reluc
STAMP  := $(VENV)/.installed

SPECS    := $(wildcard specs/*.spec)
NETWORKS := $(patsubst specs/%.spec,build/%.onnx,$(SPECS))

.PHONY: all demo test bench tables pictures mutants fuzz clean venv
all: $(NETWORKS)

venv: $(STAMP)
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,plot]'
	touch $@

# One network per spec, rebuilt only when its spec changes (the way a user's Makefile
# would use reluc). Order-only on the venv so that reinstalling does not rebuild.
build/%.onnx: specs/%.spec | $(STAMP)
	@mkdir -p build
	$(RELUC) build $< -o $@

build/%.npz: specs/%.spec | $(STAMP)
	@mkdir -p build
	$(RELUC) build $< -o $@

demo: $(NETWORKS)
	@echo '--- reluc verify --complete build/*.onnx'
	@$(RELUC) verify --complete $(NETWORKS)
	@echo '--- echo "5 -1 3 3 0 2.5 -7 1" | reluc eval build/sort8.onnx'
	@echo "5 -1 3 3 0 2.5 -7 1" | $(RELUC) eval build/sort8.onnx
	@echo '--- reluc stats build/sort64.onnx'
	@$(RELUC) stats build/sort64.onnx
	@echo '--- reluc regions build/sawtooth5.onnx'
	@$(RELUC) regions build/sawtooth5.onnx
	@echo '--- reluc plot ... (pictures of five networks, in build/)'
	$(call draw,build)

# The README's pictures (specs/pictures/), drawn from the example specs.
pictures: $(NETWORKS)
	@mkdir -p specs/pictures
	$(call draw,specs/pictures)

define draw
$(RELUC) plot build/sawtooth5.onnx -o $(1)/sawtooth5.png --size 800x420
$(RELUC) plot build/hardcomp.onnx -o $(1)/hardcomp.png --size 800x420
$(RELUC) plot build/zonotope.onnx -o $(1)/zonotope.png --color affine --size 640x560
$(RELUC) plot build/sort3.onnx -o $(1)/sort3-plane.png --plane 0,0,0 1,0,0 0,1,0 --box -1:1 --size 640x560
$(RELUC) plot build/square.onnx -o $(1)/square.png --size 800x520
endef

test: $(STAMP)
	$(BIN)/python -m pytest

# the suite against each deliberate bug of tests/mutation/mutants.py (an hour or more on a
# 2-core machine: ~290 mutants, two at a time, some killed only late in the suite)
mutants: $(STAMP)
	$(BIN)/python tests/mutation/run.py

# hostile specs, files and input rows for three minutes (FUZZ_BUDGET seconds; FUZZ_SEED)
FUZZ_BUDGET ?= 180
fuzz: $(STAMP)
	$(BIN)/python tests/fuzz.py --budget $(FUZZ_BUDGET) $(if $(FUZZ_SEED),--seed $(FUZZ_SEED))

# the benchmark; `reluc regions` against Regioncam (installed here: the bench extra)
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/run.py
	$(BIN)/python bench/regions.py
	$(BIN)/python bench/fit.py
	$(BIN)/python bench/proofs.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/floors.py
	$(BIN)/python bench/encodings.py

# README tables (sizes beside the seed paper's numbers; error against L), from the registry
tables: $(STAMP)
	$(BIN)/python bench/tables.py

clean:
	rm -rf build
