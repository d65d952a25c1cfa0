# scf-ledger developer entry points. `make test` and `make run` work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMPS := .stamps

.PHONY: venv node contracts test e2e lint slither slither-venv run demo walkthrough clean lock console-messages

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

# Slither pins web3 below the project's (web3 8), so it has an environment of its own.
SLITHER_VENV := .venv-slither
SLITHER_INFO := var/slither/artifacts

slither-venv: $(STAMPS)/slither

$(STAMPS)/slither: requirements-slither.lock
	test -x $(SLITHER_VENV)/bin/python || $(PYTHON) -m venv $(SLITHER_VENV)
	$(SLITHER_VENV)/bin/pip install -q -r requirements-slither.lock
	mkdir -p $(STAMPS) && touch $@

# Slither on contracts/src, compiled by the pinned npm solc (scf compile --build-info); every
# finding must be triaged in slither.config.json.
slither: venv node slither-venv
	$(BIN)/scf compile --build-info $(SLITHER_INFO)/build-info/scf.json
	$(SLITHER_VENV)/bin/python scripts/slither_check.py $(SLITHER_INFO)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(MAKE) slither

# The console's catalogue: every text its pages and code mark, merged into the Chinese .po
# (new ones untranslated: tests/console/test_format_i18n.py names them).
console-messages: venv
	mkdir -p var
	$(BIN)/pybabel extract -F backend/console/babel.cfg -k tr:2 -k N_ --no-location \
		--omit-header -o var/console.pot backend/console
	$(BIN)/pybabel update -i var/console.pot -d backend/console/locale -D messages -w 100 -N \
		--ignore-obsolete

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

lock-slither: slither-venv
	{ echo "# Slither's own environment (make slither-venv), from pip freeze. Regenerate: make lock-slither"; \
	  $(SLITHER_VENV)/bin/pip freeze; } > requirements-slither.lock

clean:
	rm -rf $(STAMPS) $(SLITHER_VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info var
	find . -path ./$(VENV) -prune -o -path ./contracts/node_modules -prune -o \
	  -name __pycache__ -type d -exec rm -rf {} +
