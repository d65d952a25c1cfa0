# scf-ledger developer entry points. `make test` and `make run` work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMPS := .stamps

.PHONY: venv node contracts test e2e lint run demo walkthrough clean lock

venv: $(STAMPS)/venv

$(STAMPS)/venv: requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q -e . --no-deps
	mkdir -p $(STAMPS) && touch $@

# npm writes node_modules/.package-lock.json; reinstall when the manifest or lock is newer.
NODE_STAMP := contracts/node_modules/.package-lock.json

node: $(NODE_STAMP)

$(NODE_STAMP): contracts/package.json contracts/package-lock.json
	cd contracts && npm ci --no-audit --no-fund
	touch $@

contracts: venv node
	$(BIN)/scf compile

# The whole suite: the tests marked `anvil` and `node` need the npm toolchain, so it installs it.
test: venv node
	$(BIN)/pytest -q -n 2 --dist loadfile

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The API on http://127.0.0.1:$(PORT) (embedded profile), with a seeded demo consortium.
PORT ?= 8000
run: venv
	$(BIN)/scf serve --seed --port $(PORT)

# The story over HTTP against the running API (or an in-process one when none answers).
demo: venv
	$(BIN)/scf demo --api-url http://127.0.0.1:$(PORT)

# The contract-level walk-through (gas per step), no API.
walkthrough: venv
	$(BIN)/scf walkthrough

e2e: venv
	$(BIN)/pytest -q tests/e2e

lock: venv
	{ echo "# Full pinned environment (from pip freeze, project excluded). Regenerate: make lock"; \
	  $(BIN)/pip freeze --exclude-editable | grep -vi '^scf-ledger'; } > requirements.lock

clean:
	rm -rf $(STAMPS) .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info var
	find . -path ./$(VENV) -prune -o -path ./contracts/node_modules -prune -o \
	  -name __pycache__ -type d -exec rm -rf {} +
