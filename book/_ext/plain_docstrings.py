"""Show rnn_ref's function and class docstrings as written: plain text, not reStructuredText.

rnn_ref's docstrings list inputs and outputs with their shapes in free-form, indented plain text
(the style of CS231n's layers). Parsed as reStructuredText, that indentation and characters such
as ``|a - b|`` or ``*inputs`` become markup errors. This extension keeps the first paragraph (the
summary) as text, with ``|`` and ``*`` escaped outside code spans, and shows the rest of the
docstring as a literal block, exactly as in the source, with Sphinx roles reduced to their
target (:func:`unroll` -> unroll) and doubled backquotes dropped (``xs[:, t]`` -> xs[:, t]), since
a literal block shows markup as typed. Module docstrings, which use reStructuredText on purpose
(``.. math::``), are left alone.
"""

import re

ROLE = re.compile(r":[a-z:]+:`~?([^`]+)`")
CODE = re.compile(r"(``.*?``|`[^`]*`)")
LITERAL = re.compile(r"``(.+?)``")


def escape_outside_code(line):
    """Backslash-escape | and * except inside `...` or ``...`` spans."""
    parts = CODE.split(line)
    return "".join(p if i % 2 else p.replace("|", r"\|").replace("*", r"\*") for i, p in enumerate(parts))


def plain_lines(lines):
    """The docstring lines rewritten: summary paragraph as text, the rest as a literal block."""
    if not lines:
        return lines
    end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    summary = [escape_outside_code(line) for line in lines[:end]]
    body = [LITERAL.sub(r"\1", ROLE.sub(r"\1", line)) for line in lines[end:]]
    while body and not body[0].strip():
        body.pop(0)
    while body and not body[-1].strip():
        body.pop()
    if not body:
        return summary
    return summary + ["", ".. code-block:: text", ""] + ["    " + line for line in body] + [""]


def process_docstring(app, what, name, obj, options, lines):
    if what == "module" or not name.startswith("rnn_ref"):
        return
    lines[:] = plain_lines(lines)


def setup(app):
    app.connect("autodoc-process-docstring", process_docstring)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
