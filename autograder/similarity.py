"""Similarity of answers: pairs of submissions (and answers close to the reference) to read.

It flags pairs for a human to read; it is never a verdict. Short exercises have few correct
forms, so two honest students can write the same lines: read the pair side by side, and ask.

How (the method of MOSS, Schleimer, Wilkerson and Aiken, SIGMOD 2003):

1. **Answer cells only**: the cells nbgrader marks as solutions, without the starter code (every
   line of the released stub: signature, docstring, ``# YOUR CODE HERE``).
2. **Normalised** with Python's tokenizer: identifiers become ``V`` (keywords, builtins and
   attribute names such as ``np.tanh`` stay), numbers ``N``, strings ``S``; comments, blank
   lines and indentation go. Renaming variables and editing comments change nothing.
3. **Fingerprints**: hashes of every run of :data:`K` tokens, thinned by winnowing (the minimum
   hash of each window of :data:`WINDOW`): any common run of ``K + WINDOW - 1`` tokens shares a
   fingerprint. Fingerprints are order-free, so reordering functions changes nothing.
4. **Pairs** through an index from fingerprint to submissions (no all-pairs loop). Fingerprints
   of the reference code (the instructor edition's answers and rnn_ref's graded functions) and
   those in more than :data:`COMMON_SHARE` of the class (and more than :data:`COMMON_MIN`
   submissions) are left out of pair scores: common code
   is not evidence. The score of a pair is the share of the smaller answer's fingerprints that
   the other holds. Pairs with score >= :data:`THRESHOLD` and at least :data:`MIN_SHARED`
   shared fingerprints are listed.
5. **Reference**: an answer whose fingerprints are mostly (>= :data:`THRESHOLD`) the reference's,
   over at least :data:`MIN_REFERENCE` fingerprints, is listed separately.
"""

import builtins
import csv
import hashlib
import html
import io
import keyword
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .grade import load_submission

K = 12  # tokens per hashed run
WINDOW = 6  # winnowing window
THRESHOLD = 0.6  # share of the smaller answer's fingerprints
MIN_SHARED = 10  # fingerprints a flagged pair shares at least (about 15 lines of code)
MIN_REFERENCE = 15
COMMON_SHARE = 0.2  # fingerprints in more than this share of the submissions are left out
COMMON_MIN = 4  # ... and in more than this many (in a small class, three copies are not common code)
_KEEP = set(keyword.kwlist) | set(dir(builtins))
_STRING_TOKENS = {tokenize.STRING} | {getattr(tokenize, n) for n in ("FSTRING_START",) if hasattr(tokenize, n)}
_FSTRING_PARTS = {getattr(tokenize, n) for n in ("FSTRING_MIDDLE", "FSTRING_END") if hasattr(tokenize, n)}


@dataclass
class Answer:
    """One submission's answer code, normalised and fingerprinted."""

    student: str
    text: str  # the answer cells without starter lines, as written
    tokens: list = field(default_factory=list)  # [(normalised token, line in text)]
    prints: dict = field(default_factory=dict)  # hash -> [line numbers]


def answer_cells(nb):
    """{grade id: source} of the code answer cells of a notebook."""
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")
            and c.metadata["nbgrader"].get("grade_id")}


def strip_starter(source, starter):
    """``source`` without the lines of the released stub ``starter`` (compared stripped)."""
    given = {ln.strip() for ln in starter.splitlines() if ln.strip()}
    return "\n".join(ln for ln in source.splitlines() if ln.strip() and ln.strip() not in given)


def normalise(text):
    """[(token, line)] of ``text``: identifiers V, numbers N, strings S; no comments/layout."""
    out = []
    previous = ""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text + "\n").readline):
            if tok.type == tokenize.NAME:
                word = tok.string if (tok.string in _KEEP or previous == ".") else "V"
            elif tok.type == tokenize.NUMBER:
                word = "N"
            elif tok.type in _STRING_TOKENS:
                word = "S"
            elif tok.type in _FSTRING_PARTS:  # Python 3.12+: an f-string is several tokens
                continue
            elif tok.type == tokenize.OP:
                word = tok.string
            else:
                continue
            out.append((word, tok.start[0]))
            previous = tok.string
    except (tokenize.TokenError, IndentationError, SyntaxError):
        # unfinished code: keep what tokenised, line by line as a fallback
        if not out:
            out = [(w, i + 1) for i, ln in enumerate(text.splitlines()) for w in re.findall(r"\S+", ln)]
    return out


def fingerprints(tokens):
    """{hash: [lines]} by winnowing the hashes of every K-token run."""
    if len(tokens) < K:
        return {}
    grams = []
    for i in range(len(tokens) - K + 1):
        run = " ".join(t for t, _ in tokens[i:i + K])
        h = int.from_bytes(hashlib.blake2b(run.encode(), digest_size=8).digest(), "big")
        grams.append((h, tokens[i][1], tokens[i + K - 1][1]))
    picked = {}
    for i in range(max(1, len(grams) - WINDOW + 1)):
        window = grams[i:i + WINDOW]
        h, first, last = min(window, key=lambda g: g[0])
        picked.setdefault(h, set()).update(range(first, last + 1))
    return {h: sorted(lines) for h, lines in picked.items()}


def make_answer(student, cells, starters):
    """An Answer from {grade id: source} and the released stubs {grade id: source}."""
    text = "\n\n".join(strip_starter(src, starters.get(gid, "")) for gid, src in cells.items())
    tokens = normalise(text)
    return Answer(student, text, tokens, fingerprints(tokens))


def reference_answers(assignment):
    """The reference code as Answers: the instructor edition's answers, and the rnn_ref
    functions of the same names (the graded functions the book publishes)."""
    from .authoring import answers
    from .course import source_notebook

    solution = answers(source_notebook(assignment))
    refs = [make_answer("instructor edition", solution, {})]
    names = set(re.findall(r"^\s*def (\w+)", "\n".join(solution.values()), re.M))
    sources = _published_functions(names)
    if sources:
        refs.append(make_answer("rnn_ref (published)", sources, {}))
    return refs


def _published_functions(names):
    """{"rnn_ref.<module>.<name>": source} of the functions ``names`` defined at the top of an
    rnn_ref module (a package: its ``__init__``), decorators included. Read from the files, not
    imported: importing every module (torch with the applications) took seconds per run."""
    import ast
    import pkgutil

    import rnn_ref

    sources = {}
    for module in pkgutil.iter_modules(rnn_ref.__path__):
        folder = Path(rnn_ref.__path__[0]) / module.name
        path = folder / "__init__.py" if module.ispkg else folder.with_suffix(".py")
        try:
            text = path.read_text(encoding="utf-8")
            tree = ast.parse(text)
        except (OSError, SyntaxError, ValueError):  # a module that cannot be read is skipped
            continue
        lines = text.splitlines(keepends=True)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                sources[f"rnn_ref.{module.name}.{node.name}"] = "".join(lines[start - 1:node.end_lineno])
    return sources


@dataclass
class Pair:
    a: str
    b: str
    score: float
    shared: int
    lines_a: list
    lines_b: list


def compare(answers, references=(), threshold=THRESHOLD, min_shared=MIN_SHARED):
    """(pairs, reference matches) above the threshold, highest first.

    answers: [Answer]; references: [Answer]. A reference match is a Pair whose ``b`` is the
    reference's name.
    """
    ref_prints = set().union(*(r.prints for r in references)) if references else set()
    index = {}
    for n, answer in enumerate(answers):
        for h in answer.prints:
            index.setdefault(h, []).append(n)
    common = {h for h, who in index.items() if len(who) > max(COMMON_MIN, COMMON_SHARE * len(answers))}
    usable = [set(a.prints) - ref_prints - common for a in answers]
    shared = {}
    for h, who in index.items():
        if h in ref_prints or h in common:
            continue
        for i, x in enumerate(who):
            for y in who[i + 1:]:
                shared[(x, y)] = shared.get((x, y), 0) + 1
    pairs = []
    for (x, y), count in shared.items():
        smaller = min(len(usable[x]), len(usable[y])) or 1
        score = count / smaller
        if score >= threshold and count >= min_shared:
            both = usable[x] & usable[y]
            a, b = answers[x], answers[y]
            pairs.append(Pair(a.student, b.student, score, count,
                              sorted({ln for h in both for ln in a.prints[h]}),
                              sorted({ln for h in both for ln in b.prints[h]})))
    matches = []
    for answer in answers:
        for ref in references:
            both = set(answer.prints) & set(ref.prints)
            size = len(answer.prints) or 1
            if len(both) >= MIN_REFERENCE and len(both) / size >= threshold:
                matches.append(Pair(answer.student, ref.student, len(both) / size, len(both),
                                    sorted({ln for h in both for ln in answer.prints[h]}),
                                    sorted({ln for h in both for ln in ref.prints[h]})))
    key = lambda p: (-p.score, p.a, p.b)  # noqa: E731
    return sorted(pairs, key=key), sorted(matches, key=key)


def submission_answers(submissions, release_path):
    """[Answer] of the readable submissions; starters from the released notebook."""
    starters = answer_cells(nbformat.read(str(release_path), as_version=4))
    found = []
    for s in submissions:
        _, nb, problem = load_submission(s)  # no link followed; malformed ones are skipped
        if problem:
            continue  # the grader reports it already
        found.append(make_answer(s.student, answer_cells(nb), starters))
    return found


# --- output --------------------------------------------------------------------------------------

def write_csv(pairs, matches, path):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["kind", "student_a", "student_b", "score", "shared_fingerprints"])
        for kind, rows in (("pair", pairs), ("reference", matches)):
            for p in rows:
                w.writerow([kind, p.a, p.b, f"{p.score:.3f}", p.shared])


def _side(text, marked):
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        cls = ' class="hit"' if n in marked else ""
        rows.append(f"<span{cls}>{n:4d}  {html.escape(line)}</span>")
    return "<pre>" + "\n".join(rows) + "</pre>"


NOTICE = ("This report flags pairs of answers for a person to read. It is not a verdict: short "
          "exercises have few correct forms, and two students can write the same lines on their "
          "own. Read each pair side by side before you draw any conclusion, and ask the students.")


def write_html(pairs, matches, answers, references, path, assignment, count):
    by_name = {a.student: a for a in list(answers) + list(references)}

    def block(p, title):
        a, b = by_name[p.a], by_name[p.b]
        return (f"<h3>{html.escape(title)}: score {p.score:.2f} ({p.shared} shared "
                f"fingerprints)</h3>\n<div class='pair'><div><h4>{html.escape(p.a)}</h4>"
                f"{_side(a.text, set(p.lines_a))}</div><div><h4>{html.escape(p.b)}</h4>"
                f"{_side(b.text, set(p.lines_b))}</div></div>")

    parts = [f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
             f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
             f"<title>{assignment}: similarity</title><style>{STYLE}</style></head><body>",
             f"<h1>{assignment}: similar answers</h1>",
             f"<p class='notice'>{NOTICE}</p>",
             f"<p>{count} submissions compared, answer cells only, starter code removed, "
             f"identifiers, literals, comments and layout normalised. Listed: pairs whose score "
             f"is at least {THRESHOLD:g} (the share of the smaller answer's fingerprints found in "
             f"the other, after leaving out the reference code and code common to more than "
             f"{COMMON_SHARE:.0%} of the class) with at least {MIN_SHARED} shared fingerprints. "
             f"Matching lines are highlighted.</p>",
             f"<h2>Pairs of submissions ({len(pairs)})</h2>"]
    parts += [block(p, f"{p.a} and {p.b}") for p in pairs] or ["<p>No pair above the threshold.</p>"]
    parts.append(f"<h2>Answers close to the reference code ({len(matches)})</h2>"
                 "<p>The reference is the instructor edition's answers and rnn_ref's functions of "
                 "the same names, published with the book. A close match can be honest (the "
                 "reference is the natural way to write it) or copied.</p>")
    parts += [block(p, f"{p.a} and the {p.b}") for p in matches] or ["<p>None.</p>"]
    parts.append("</body></html>\n")
    Path(path).write_text("\n".join(parts), encoding="utf-8")


STYLE = """body{font-family:system-ui,sans-serif;margin:1em auto;max-width:90em;padding:0 1em}
.notice{border:2px solid #c60;padding:.5em 1em}
.pair{display:flex;flex-wrap:wrap;gap:1em}.pair>div{flex:1 1 30em;min-width:0;overflow-x:auto}
pre{font-size:.85em;background:#f6f6f6;padding:.5em}.hit{background:#ffe08a;display:inline-block;width:100%}"""


def report(assignment, submissions, release_path, out_dir):
    """Compare the submissions; write similarity.csv and similarity.html; returns (pairs, matches)."""
    answers = submission_answers(submissions, release_path)
    references = reference_answers(assignment)
    pairs, matches = compare(answers, references)
    write_csv(pairs, matches, Path(out_dir) / "similarity.csv")
    write_html(pairs, matches, answers, references, Path(out_dir) / "similarity.html", assignment,
               len(answers))
    return pairs, matches
