"""The mutant corpus as a whole (issue 16): the mistake tables of the seven assignment test modules.

Each ``tests/test_aN_*.py`` scores its own mutants (in process, and a few through the real
grader); this module does not run them again. It reads the tables and checks what the issue asks
of the corpus: at least 10 wrong answers per assignment, each losing points on tests that exist,
each with the words its feedback must contain, and at least 90 % of those words naming the
mistake (a catalogued slip, a convention, a property) rather than saying only that a value is wrong.
"""

import importlib
import re

import pytest

from grading import AssignmentTests, points

from autograder.course import ASSIGNMENTS

MIN_PER_ASSIGNMENT = 10
NAMING_SHARE = 0.9
# Phrases that say only that something is wrong, not which mistake: the generic messages of
# the checks (a value's largest error, a shape, an exception's name) and bare verdicts.
GENERIC = re.compile(r"^\W*(is |are )?(wrong|incorrect|not close|differs?|mismatch|failed|error)\W*$"
                     r"|largest error|is wrong\b|are wrong\b|not equal|AssertionError|CheckFailed"
                     r"|^\W*(shape|value|values|NaN)\W*$", re.I)


def _module(assignment):
    return importlib.import_module(f"test_{assignment}")


def corpus():
    """{assignment: {mutant name: (answer cell, replacements, failing tests, phrase)}}."""
    tables = {}
    for assignment in ASSIGNMENTS:
        classes = [c for c in vars(_module(assignment)).values()
                   if isinstance(c, type) and issubclass(c, AssignmentTests) and c is not AssignmentTests]
        assert len(classes) == 1 and classes[0].assignment == assignment, assignment
        tables[assignment] = classes[0].mutants
    return tables


def names_a_mistake(phrase):
    """Whether the phrase a mutant's feedback must contain names its mistake (not "is wrong")."""
    words = re.findall(r"[A-Za-z]\w*", phrase)
    named_code = any("_" in w or "." in w for w in phrase.split())  # a function or option it used
    return (len(words) >= 2 or named_code) and not GENERIC.search(phrase)


@pytest.fixture(scope="module")
def tables():
    return corpus()


def test_every_assignment_has_a_mutant_table(tables):
    assert sorted(tables) == sorted(ASSIGNMENTS)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_at_least_ten_wrong_answers_per_assignment(tables, assignment):
    # The count the issue asks for. Other branches of this session add the missing mutants
    # (a7: a7_charlm; fbgrad: a2, a4, a5; fbseq: a1, a3, a6): on a branch without theirs this
    # fails for that reason only, and passes once they are merged.
    assert len(tables[assignment]) >= MIN_PER_ASSIGNMENT, (
        f"{assignment} has {len(tables[assignment])} mutants: {sorted(tables[assignment])}")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_mutant_loses_points_on_tests_that_exist_and_has_a_phrase(tables, assignment):
    tests = set(points(assignment))
    for name, (cell, replacements, failing, phrase) in tables[assignment].items():
        assert replacements and all(old != new for old, new in replacements), name
        assert failing and set(failing) <= tests, (name, set(failing) - tests)
        assert isinstance(phrase, str) and phrase.strip(), name


def test_the_classifier_tells_a_named_mistake_from_a_generic_verdict():
    for generic in ("is wrong", "`dh_prev` is wrong", "largest error", "AssertionError", "values", "wrong"):
        assert not names_a_mistake(generic), generic
    for named in ("clip_grad_value_", "without the tanh", "Wh transposed", "over the batch axis", "modified its input",
                  "gates are ordered i,f,o,g", "NaN or infinity"):
        assert names_a_mistake(named), named


def test_at_least_90_percent_of_the_corpus_get_a_message_naming_the_mistake(tables):
    phrases = {(a, n): table[n][3] for a, table in tables.items() for n in table}
    generic = sorted(f"{a}/{n}: {p!r}" for (a, n), p in phrases.items() if not names_a_mistake(p))
    share = 1 - len(generic) / len(phrases)
    assert share >= NAMING_SHARE, f"{share:.0%} name the mistake; generic: {generic}"


def test_no_two_mutants_of_an_assignment_are_the_same_edit(tables):
    for assignment, table in tables.items():
        edits = [(cell, tuple(map(tuple, replacements))) for cell, replacements, _, _ in table.values()]
        assert len(edits) == len(set(edits)), assignment
