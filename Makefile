# The two commands of the README: `make run` (index corpus/ and open the chat) and `make test`;
# `make docs` builds the documentation site into build/site/.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch first, pinned: 2.13.0 is the CPU build on these machines (a plain `torch` pulls a CUDA build).
TORCH_SPEC ?= torch==2.13.0

.PHONY: run test bench docs setup setup-test clean

run: $(VENV)/.installed
	$(BIN)/rag ingest
	$(BIN)/rag chat

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

setup: $(VENV)/.installed
setup-test: $(VENV)/.installed-test

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_SPEC)
	touch $@

$(VENV)/.installed: $(VENV)/.created pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

# The tests run the LLM answerers too: the local extra builds llama-cpp-python (several minutes).
# A portable build: one tuned to the building CPU (GGML_NATIVE) may use instructions that the CPU
# lists but the machine does not allow (AMX here), and dies with "Illegal instruction"; no pip
# cache, so that such a build left by an earlier install is not reused.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF
$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet --no-cache-dir 'llama-cpp-python[server]>=0.3'
	$(BIN)/pip install --quiet -e '.[dev,local,docs]'
	touch $@

$(VENV)/.installed-docs: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[docs]'
	touch $@

# Strict: a broken link, a missing page or an unresolved reference fails the build.
docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir build/site

$(VENV)/.installed-bench: $(VENV)/.installed-test pyproject.toml
	$(BIN)/pip install --quiet -e '.[bench]'
	touch $@

bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench.all

clean:
	rm -rf $(VENV) .rag
