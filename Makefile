# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
# PORT and PUBLIC_URL are not set here: `make run PORT=8000` passes them on, and otherwise every
# process (web, worker, beat, a `newsletter` command in another shell) reads them from .env,
# the one place for them (default: port 5000, links to http://127.0.0.1:$PORT).
# Reader-facing texts: translations/messages.pot (extracted), one messages.po per language,
# compiled to messages.mo (build output, not committed).
POT := translations/messages.pot
MO := $(patsubst %.po,%.mo,$(wildcard translations/*/LC_MESSAGES/messages.po))

.PHONY: run test lint bench install messages clean-outbox

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(TEST_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install -q -e '.[test]'
	touch $@

$(MO): %.mo: %.po | $(STAMP)
	$(BIN)/pybabel compile -i $< -o $@

install: $(STAMP) $(MO)

# After changing texts in code or templates: re-extract them and merge them into every .po
# (new texts come in untranslated; tests/unit/test_i18n.py fails until they are translated).
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg --add-location=file --sort-output -c TRANSLATORS: \
		--project newsletter-service --version 0.1.0 -o $(POT) .
	$(BIN)/pybabel update -i $(POT) -d translations --ignore-obsolete
	$(MAKE) --no-print-directory $(MO)

# Every line it prints from here on is one JSON object (README "Logs"), so no command echo.
run: $(STAMP) $(MO)
	@$(BIN)/newsletter db upgrade
	@$(BIN)/newsletter seed-demo
	@$(BIN)/newsletter banner
	@# One supervisor for web, worker and beat: restarts a process that dies, Ctrl-C stops all (exit 0).
	@$(BIN)/newsletter start

test: $(TEST_STAMP) $(MO)
	$(BIN)/pytest --cov --cov-report=term-missing:skip-covered

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(TEST_STAMP)
	$(BIN)/python bench/signup.py
	$(BIN)/python bench/send.py --n 20000 100000 --concurrency 2 --connections 2
	$(BIN)/python bench/send.py --n 20000 --slow 0.010 --connections 64 --concurrency 2
