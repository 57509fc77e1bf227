# Two entry points (see README): `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run demo test test-fast bench clean

$(STAMP): requirements.txt requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $(STAMP)

run: $(STAMP)  ## install, then start the dashboard on http://127.0.0.1:8501
	$(PY) -m streamlit run app.py

demo: $(STAMP)  ## headless: run the three demo models on demo-qa from the CLI
	$(PY) -m core run --models demo-tiny,demo-small,demo-base --prompt-set demo-qa --limit 50

test: $(STAMP)  ## the whole suite (CI runs this)
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest -m "not browser and not slow"

bench: $(STAMP)
	for b in bench/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) data/runtime artifacts .pytest_cache
