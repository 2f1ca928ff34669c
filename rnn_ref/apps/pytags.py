"""Tagging real Python source, character by character, with labels from :mod:`tokenize`.

The text is the source of a few pure-Python modules of the standard library (training:
argparse, difflib, calendar, pprint, about 230,000 characters; held out: textwrap, shlex,
queue, string, about 56,000), split into lines of at most 80 characters. Every character gets
the type of the token that covers it, from the standard ``tokenize`` module, with names split
three ways:

====  =====================================================================
tag   meaning
====  =====================================================================
k     keyword (``keyword.iskeyword``: ``for``, ``in``, ``return`` ...)
c     a name followed by ``(``: a call, or the name in a definition
n     any other name
s     string (including its prefix and quotes)
#     comment
1     number
o     operator or punctuation
.     space and anything else
====  =====================================================================

Much of it needs the right context: at the ``i`` of ``in`` or ``int(`` a left-to-right model
cannot yet know whether it reads a keyword, a called name or a plain name, nor at the ``r`` of
``r"..."`` whether a string starts. The source differs between Python versions, so the
configuration carries a fingerprint of the text.
"""

import importlib
import io
import keyword
import tokenize

TRAIN_MODULES = ("argparse", "difflib", "calendar", "pprint")
TEST_MODULES = ("textwrap", "shlex", "queue", "string")
PY_TAGS = "kcns#1o."
MAX_LINE = 80


def module_source(name):
    """The source text of a standard-library module."""
    with open(importlib.import_module(name).__file__, encoding="utf-8") as f:
        return f.read()


def char_tags(source):
    """One tag (a character of PY_TAGS) per character of ``source``, as a str of equal length."""
    starts = [0]  # offset of every line's first character
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    tags = ["."] * len(source)
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)]
    for k, tok in enumerate(tokens):
        kind = {tokenize.STRING: "s", tokenize.COMMENT: "#", tokenize.NUMBER: "1", tokenize.OP: "o"}.get(tok.type)
        if tok.type == tokenize.NAME:
            following = tokens[k + 1] if k + 1 < len(tokens) else None
            if keyword.iskeyword(tok.string):
                kind = "k"
            elif following is not None and following.string == "(":
                kind = "c"
            else:
                kind = "n"
        if kind is None:
            continue
        (r0, c0), (r1, c1) = tok.start, tok.end
        for i in range(starts[r0 - 1] + c0, starts[r1 - 1] + c1):
            tags[i] = kind
    return "".join(tags)


def python_lines(modules):
    """(line, tags) pairs of the modules' non-blank lines, each line cut to MAX_LINE characters."""
    pairs = []
    for name in modules:
        source = module_source(name)
        tags = char_tags(source)
        offset = 0
        for line in source.splitlines(keepends=True):
            text = line.rstrip("\n")[:MAX_LINE]
            if text.strip():
                pairs.append((text, tags[offset:offset + len(text)]))
            offset += len(line)
    return pairs
