# 原上管家 — every entry point. See README.md.
PY := .venv/bin/python
Q ?= 高企认定需要什么条件

MONTH ?= $(shell date -d "$$(date +%Y-%m-01) -1 day" +%Y-%m)

.PHONY: install run test test-fast test-unit lint train eval eval-cv bench bench-kb kb-validate kb-search kb-reload report dispatch demo staff scheduler-status retention clean bench-load eval-dialogue format

install:
	@scripts/bootstrap.sh

run: install            ## train if needed, start action server + Rasa + desk, print URLs
	$(PY) -m bot.runtime.launcher

test: install           ## the whole test suite (unit + end-to-end against real servers)
	$(PY) -m pytest -q

# The fast loop (under a minute on two cores): the unit tests of the core on SQLite, on every core. Left to
# `make test`: tests marked rasa (tests/unit/rasa_ext), desk (the web app in-process), postgresql, redis and
# slow (see [tool.pytest.ini_options] markers). Bytecode is written so the rewritten test modules are reused.
FAST := unit and not rasa and not desk and not postgresql and not redis and not slow

test-fast: install      ## the unit tests of the core on SQLite, in parallel, in under a minute (includes the static checks)
	env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest -q -n auto -m "$(FAST)" --ignore=tests/unit/rasa_ext tests/unit

test-unit: install      ## every test in tests/unit (all markers, both databases), in parallel; no Rasa or desk server started
	env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest -q -n auto -m unit tests/unit

lint: install           ## layering contracts (import-linter), ruff and mypy ([tool.importlinter], [tool.ruff], [tool.mypy] in pyproject.toml)
	.venv/bin/lint-imports
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

format: install         ## lay the code out the one way: imports sorted, unused ones dropped, ruff format (`make lint` and the tests check it)
	.venv/bin/ruff check --fix --select I,F401 .
	.venv/bin/ruff format .

train: install
	$(PY) -m bot.rasa_ext.training

eval: install           ## NLU held-out evaluation + TF-IDF baseline + fallback threshold table
	$(PY) bench/nlu_eval.py

eval-dialogue: install  ## conversation-level evaluation: held-out scenarios through the web chat, DB checks (ARGS="--tag fast")
	$(PY) bench/eval_dialogue.py $(ARGS)

eval-cv: install        ## rasa test nlu 5-fold cross-validation on the training data
	$(PY) -m rasa test nlu --nlu data/nlu --config config.yml --cross-validation --folds 5 --out results/cv

bench: install          ## startup time, /model/parse and REST turn latency, RSS
	$(PY) bench/rasa_speed.py

bench-kb: install       ## knowledge-base retrieval evaluation and scale benchmark
	$(PY) bench/kb_eval.py
	$(PY) bench/kb_scale.py

bench-load: install     ## 200 scripted enterprise conversations, embedded and scale profile, DB checks
	$(PY) bench/load.py --profile both --enterprises 200

report: install
	@mkdir -p var/reports
	$(PY) -m bot.reports monthly --month $(MONTH) --html var/reports/$(MONTH).html --xlsx var/reports/$(MONTH).xlsx

dispatch: install        ## 日调度 at a moment, as the 08:30 job sends it (ARGS="--now 2026-11-25T08:30 --node fengxi")
	$(PY) -m bot.reports dispatch $(ARGS)

DB ?= sqlite:///var/yuanshang.db

demo: install
	$(PY) -m bot.tooling.demo --db $(DB) --enterprises 500 --year $(shell date +%Y)

staff: install          ## make staff U=li N=李明 NODE=fengxi ROLE=staff (asks for the password)
	$(PY) -m bot.staff create --username $(U) --name $(N) --node $(NODE) --role $(or $(ROLE),staff)

scheduler-status: install
	$(PY) -m bot.scheduler status

retention: install      ## delete Rasa tracker events past TRACKER_RETENTION_DAYS (make retention ARGS=--dry-run)
	$(PY) -m bot.rasa_ext.retention $(ARGS)

kb-validate: install
	$(PY) -m bot.knowledge validate
	$(PY) -m bot.policy validate

kb-search: install
	$(PY) -m bot.knowledge search "$(Q)"

kb-reload: install
	$(PY) -m bot.knowledge reload

clean:
	rm -rf models results var .pytest_cache
