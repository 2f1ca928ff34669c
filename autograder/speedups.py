"""Faster equivalents of three steps of nbgrader's own bookkeeping, with the same results.

- The gradebook schema's head revision: nbgrader's ``get_alembic_version`` starts an
  ``alembic`` process for this string whenever it creates a gradebook (1.5 s on a quiet machine,
  much more on a busy one); the same migration scripts read in this process give the same string.
- The cell metadata check (``CheckCellMetadata``, run twice per notebook): nbgrader calls
  ``jsonschema.validate`` for every nbgrader cell, which first checks the schema itself against
  the JSON Schema meta-schema each time (a third of a second per notebook); here the schema is
  checked once and the same validation runs on every cell, raising the same error.

- jsonschema's IRI format check: importing jsonschema (nbformat does) imports ``rfc3987_syntax``
  when it is installed (jupyter_server's dependencies bring it), which compiles an Earley grammar
  of IRIs: a second of every grading command's start. Nothing in the grader checks the ``iri``
  format (nbformat and nbgrader validate without a format checker), so the grade command skips
  that import (:func:`skip_iri_grammar`); validation is the same.
- The gradebook's database engine: nbgrader makes a new SQLAlchemy engine for every gradebook it
  opens (about ten per submission), so every statement is compiled again and the dialect is set
  up again each time; here an engine is made once per database URL and process and reused (each
  gradebook still closes its connections when it closes: nbgrader disposes the engine's pool).

:func:`install` puts them into this process's nbgrader (autograder.course and autograder.runner
call it before nbgrader runs).
"""

import functools
import os


def alembic_head():
    """The head revision of nbgrader's gradebook schema, read from nbgrader's migration scripts."""
    import nbgrader
    from alembic.script import ScriptDirectory

    return ScriptDirectory(os.path.join(os.path.dirname(nbgrader.__file__), "alembic")).get_current_head()


@functools.lru_cache(maxsize=None)
def _validator(schema_json):
    import json

    import jsonschema

    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate(instance, schema):
    """``jsonschema.validate(instance, schema)`` with the schema checked once per schema."""
    import json

    from jsonschema import exceptions

    error = exceptions.best_match(_validator(json.dumps(schema, sort_keys=True)).iter_errors(instance))
    if error is not None:
        raise error


class _Jsonschema:
    """The ``jsonschema`` module as nbgrader's metadata check sees it: ``validate`` cached."""

    def __init__(self, module):
        self._module = module
        self.validate = validate

    def __getattr__(self, name):
        return getattr(self._module, name)


_engines = {}


def create_engine(url, **kwargs):
    """SQLAlchemy's ``create_engine``, one engine per URL and arguments in this process."""
    import sqlalchemy

    key = (str(url), tuple(sorted((k, repr(v)) for k, v in kwargs.items())))
    if key not in _engines:
        _engines[key] = sqlalchemy.create_engine(url, **kwargs)
    return _engines[key]


def skip_iri_grammar():
    """Make ``import rfc3987_syntax`` fail in this process, before jsonschema is imported: jsonschema
    then has no ``iri`` format check, which nothing here uses. No-op once jsonschema is loaded."""
    import sys

    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)


def install():
    """Use them in this process's nbgrader (idempotent)."""
    import nbgrader.api
    import nbgrader.nbgraderformat.common as common

    nbgrader.api.create_engine = create_engine
    if not getattr(nbgrader.api.get_alembic_version, "in_process", False):
        head = functools.lru_cache(maxsize=None)(alembic_head)
        head.in_process = True
        nbgrader.api.get_alembic_version = head
    if not isinstance(common.jsonschema, _Jsonschema):
        common.jsonschema = _Jsonschema(common.jsonschema)
