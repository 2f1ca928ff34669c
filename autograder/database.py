"""Where the gradebook lives, and how several graders share it.

nbgrader keeps its gradebook in any SQLAlchemy database. The grader uses a SQLite file in its
course directory unless ``--db`` names another one; with PostgreSQL, graders on several machines
each take a share of the students (``--shard K/M``) and write to the same gradebook.
"""

import contextlib
import fcntl
import hashlib
import importlib.util
import os
import zlib
from pathlib import Path

SCHEMES = ("sqlite", "postgresql")


def gradebook_url(db, course_dir):
    """The SQLAlchemy URL of the gradebook: ``db`` if given, else ``course_dir/gradebook.db``.

    ``postgresql://user@host/name`` uses psycopg2 (pinned in requirements.txt) unless the URL
    names a driver (``postgresql+psycopg://``) or psycopg 3 is installed. Other databases are
    refused: the grader is tested on these two only.
    """
    if db is None:
        return f"sqlite:///{Path(course_dir).resolve() / 'gradebook.db'}"
    scheme, sep, rest = db.partition("://")
    if not sep or scheme.split("+")[0] not in SCHEMES:
        raise ValueError(f"--db must be a sqlite:/// or postgresql:// URL, not {db!r}")
    if scheme == "postgresql" and importlib.util.find_spec("psycopg") is None:
        return f"postgresql+psycopg2://{rest}"
    return db


def is_shared(url):
    """True when the gradebook is a server database that other graders may write at the same time."""
    return not url.startswith("sqlite")


def parse_shard(text):
    """``"K/M"`` -> (K, M) with 1 <= K <= M; ValueError otherwise."""
    try:
        k, m = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like K/M (e.g. 2/3), not {text!r}") from None
    if not 1 <= k <= m:
        raise ValueError(f"--shard {text}: need 1 <= K <= M")
    return k, m


def shard_of(student, shards):
    """The shard (1..shards) that grades ``student``: a hash of the id, the same on every machine."""
    digest = hashlib.sha256(student.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shards + 1


def in_shard(student, shard):
    """Whether ``student`` belongs to ``shard`` = (K, M); shard None takes everyone."""
    return shard is None or shard_of(student, shard[1]) == shard[0]


@contextlib.contextmanager
def exclusive(url, name="schema"):
    """Hold a lock shared by every grader of this gradebook while the block runs.

    Creating the tables and registering an assignment are not safe to run twice at once: on
    PostgreSQL this is an advisory lock on the server, on SQLite a lock file beside the database.
    """
    if is_shared(url):
        import sqlalchemy

        key = zlib.crc32(f"rnn-course-gradebook-{name}".encode())
        engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
        try:
            with engine.connect() as conn:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
                try:
                    yield
                finally:
                    conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        finally:
            engine.dispose()
    else:
        path = url.split("sqlite:///", 1)[-1] + ".lock"
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
