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
- The gradebook's tables: every gradebook nbgrader opens (a dozen per submission) lists the
  database's tables and checks each of its own with a query before it creates the missing ones;
  here, once every table is known to exist in an SQLite file (the same file: device and inode),
  later gradebooks on it skip both (a PostgreSQL gradebook is checked every time, as nbgrader does).

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


_tables = {}  # engine -> (device, inode) of its SQLite file, once every gradebook table exists in it


def _sqlite_file(engine):
    """(device, inode) of the SQLite file of ``engine``, or None (another database, or no file)."""
    url = getattr(engine, "url", None)
    if url is None or url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    try:
        info = os.stat(url.database)
    except OSError:
        return None
    return info.st_dev, info.st_ino


class _Tables:
    """What nbgrader asks of an inspector (whether the database has tables), known already."""

    def __init__(self, names):
        self.names = names

    def get_table_names(self):
        return list(self.names)


def _known(engine):
    where = _sqlite_file(engine)
    return where is not None and _tables.get(engine) == where


def inspect(subject):
    """``sqlalchemy.inspect`` as nbgrader's Gradebook uses it (the table names)."""
    import sqlalchemy
    from nbgrader.api import Base

    if _known(subject):
        return _Tables(sorted(Base.metadata.tables))
    return sqlalchemy.inspect(subject)


def _create_all(create_all):
    """nbgrader's ``Base.metadata.create_all``, skipped where every table is known to exist."""

    def create(bind=None, tables=None, checkfirst=True):
        if tables is None and checkfirst and _known(bind):
            return None
        result = create_all(bind=bind, tables=tables, checkfirst=checkfirst)
        where = _sqlite_file(bind)
        if tables is None and where is not None:
            _tables[bind] = where
        return result

    create.in_process = True
    return create


def install():
    """Use them in this process's nbgrader (idempotent)."""
    import nbgrader.api
    import nbgrader.nbgraderformat.common as common

    nbgrader.api.inspect = inspect
    metadata = nbgrader.api.Base.metadata
    if not getattr(metadata.create_all, "in_process", False):
        metadata.create_all = _create_all(metadata.create_all)

    nbgrader.api.create_engine = create_engine
    if not getattr(nbgrader.api.get_alembic_version, "in_process", False):
        head = functools.lru_cache(maxsize=None)(alembic_head)
        head.in_process = True
        nbgrader.api.get_alembic_version = head
    if not isinstance(common.jsonschema, _Jsonschema):
        common.jsonschema = _Jsonschema(common.jsonschema)
