# The two commands a newcomer needs:  make book   and   make test
# Both create .venv if it is missing and install the pinned requirements first.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: setup book test bench clean

$(STAMP): requirements.txt pyproject.toml .ci/system-packages
	bash .ci/install-system-packages
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) -r requirements.txt > $(VENV)/pip.log 2>&1 || { grep -v "is ignored: it is neither" $(VENV)/pip.log; exit 1; }
	$(PIP) --no-deps -e .
	$(PY) -c "import rnn_ref, torch, nbgrader, jupyter_book"
	touch $(STAMP)

setup: $(STAMP)

book: setup
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	@echo "Open _build/html/index.html"

test: setup
	$(PY) -m pytest

bench: setup
	$(PY) -m bench

clean:
	rm -rf _build .pytest_cache
