# The two commands a newcomer needs: `make run` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test e2e audit lint typecheck bench catalogue schema clean

$(STAMP): requirements/main.txt requirements/dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## Start the bot: Slack/Teams when configured, otherwise the console on the bundled example.
run: $(STAMP)
	$(BIN)/python -m bot.start

## The whole suite (PostgreSQL too when DIGILOG_TEST_POSTGRES_URL is set): the checks of
## .pre-commit-config.yaml (ruff, ruff format, codespell, mypy), the declared dependencies
## (pip check), then the tests on every core; it prints how long it all took.
test: $(STAMP)
	@start=$$(date +%s); \
	$(BIN)/pre-commit run --all-files --show-diff-on-failure && \
	$(BIN)/python -m pip check && \
	$(BIN)/pytest -n $${DIGILOG_TEST_WORKERS:-auto} --durations=15; \
	status=$$?; echo "make test: $$(( $$(date +%s) - start )) s"; exit $$status

## Digilog in a real Teams client: the Microsoft 365 Agents Playground (npm, pinned in
## tests/e2e/package-lock.json) driven headless in Debian's Chromium (/usr/bin/chromium:
## `apt-get install chromium`) against `digilog serve`. Needs Node.js 20 and npm; takes two
## or three minutes. On a failure it prints where its screenshots and logs are.
e2e: $(STAMP) tests/e2e/node_modules/.package-lock.json
	@start=$$(date +%s); \
	cd tests/e2e && DIGILOG_BIN=$(abspath $(BIN))/digilog \
		node --test --test-concurrency=1 playground.test.mjs; \
	status=$$?; echo "make e2e: $$(( $$(date +%s) - start )) s"; exit $$status

tests/e2e/node_modules/.package-lock.json: tests/e2e/package.json tests/e2e/package-lock.json
	cd tests/e2e && npm ci

## Known vulnerabilities with a fix in the pinned requirements (pip-audit, its own venv).
audit:
	$(PYTHON) -m venv .venv-audit
	.venv-audit/bin/python -m pip install --quiet pip-audit==2.10.1
	.venv-audit/bin/pip-audit -r requirements/main.txt -r requirements/dev.txt --no-deps \
		--disable-pip --progress-spinner off -f json -o .venv-audit/report.json || true
	$(PYTHON) .ci/audit.py .venv-audit/report.json

bench: $(STAMP)
	$(BIN)/python bench/bank_search.py
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/slack_quiz_burst.py
	$(BIN)/python bench/teams_quiz_burst.py
	$(BIN)/python bench/startup.py
	@if [ -n "$$DIGILOG_TEST_POSTGRES_URL" ]; then \
		$(BIN)/python bench/slack_quiz_burst.py --database "$$DIGILOG_TEST_POSTGRES_URL"; \
		$(BIN)/python bench/teams_quiz_burst.py --database "$$DIGILOG_TEST_POSTGRES_URL"; \
		$(BIN)/python bench/startup.py --database "$$DIGILOG_TEST_POSTGRES_URL"; \
	fi

## Re-extract the English texts and merge them into the Swedish catalogue.
catalogue: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k t -k N_ -k plural:1,2 --no-location --sort-output \
		--project=digilog -o handlers/locales/digilog.pot handlers bot
	$(BIN)/pybabel update -D digilog -i handlers/locales/digilog.pot -d handlers/locales -l sv \
		--no-fuzzy-matching

## After a new migration: write storage/schema/*.sql again, the schema a new database is made
## from (storage/snapshot.py). Needs PostgreSQL's pg_dump and DIGILOG_TEST_POSTGRES_URL.
schema: $(STAMP)
	@test -n "$$DIGILOG_TEST_POSTGRES_URL" || { echo "make schema: set DIGILOG_TEST_POSTGRES_URL"; exit 2; }
	$(BIN)/python -m storage.snapshot "$$DIGILOG_TEST_POSTGRES_URL"

clean:
	rm -rf $(VENV) .venv-audit .pytest_cache .mypy_cache .ruff_cache
