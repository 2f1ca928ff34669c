"""Which edition of the book is built: the student edition (default) or the instructor edition.

``make book EDITION=instructor`` sets ``BOOK_EDITION=instructor``; this extension turns that into
the Sphinx tag ``instructor``, so ``{only} instructor`` blocks (the reference code of the graded
functions) appear only there, and ``{only} not instructor`` blocks (their pseudo-code) only in
the student edition, which is what gets published.
"""

import os

EDITIONS = ("student", "instructor")


def setup(app):
    edition = os.environ.get("BOOK_EDITION", "student") or "student"
    if edition not in EDITIONS:
        raise ValueError(f"BOOK_EDITION={edition!r}: choose one of {', '.join(EDITIONS)}")
    if edition == "instructor":
        app.tags.add("instructor")
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
