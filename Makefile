# The two commands a newcomer needs: `make run` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck bench catalogue clean

$(STAMP): requirements/main.txt requirements/dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## Start the bot: Slack/Teams when configured, otherwise the console on the bundled example.
run: $(STAMP)
	$(BIN)/python -m bot.start

## The whole suite (PostgreSQL too when DIGILOG_TEST_POSTGRES_URL is set).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/bank_search.py
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/slack_quiz_burst.py
	$(BIN)/python bench/teams_quiz_burst.py
	@if [ -n "$$DIGILOG_TEST_POSTGRES_URL" ]; then \
		$(BIN)/python bench/slack_quiz_burst.py --database "$$DIGILOG_TEST_POSTGRES_URL"; \
		$(BIN)/python bench/teams_quiz_burst.py --database "$$DIGILOG_TEST_POSTGRES_URL"; \
	fi

## Re-extract the English texts and merge them into the Swedish catalogue.
catalogue: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k t -k N_ -k plural:1,2 --no-location --sort-output \
		--project=digilog -o handlers/locales/digilog.pot handlers bot
	$(BIN)/pybabel update -D digilog -i handlers/locales/digilog.pot -d handlers/locales -l sv \
		--no-fuzzy-matching

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
