"""Answers that tamper with the grader: a static scan of a submission's code before it runs.

nbgrader runs the tests in the student's kernel, after the student's code, so whatever a test
uses the student's code could have replaced. The checks capture numpy's functions when they are
imported and the test cells re-import the checks (autograder.checks.common), which defeats
rebinding a name; rebinding an attribute of a module (``check.state_values = ...``,
``np.testing.assert_allclose = ...``) would not be defeated. This scan finds such code before the
notebook runs: assignments to, or setattr/delattr on, anything reached from an imported module;
``sys.modules``, ``__dict__`` and similar handles on the interpreter's internals; code run from
strings (exec, eval, compile, __import__); importing importlib, ctypes, gc, builtins or _testcapi; frames
(``sys._getframe``, ``f_back``, ``inspect.stack``: the checker's locals hold the expected values);
trace, profile, audit, display and exception hooks; IPython's shell beyond the magics
(``get_ipython().events``, input transformers); the insides of other code (``__self__``,
``__closure__``, ``__defaults__``). None of these is needed to answer an exercise. A notebook with a finding scores 0 and the reason names
the cell and line, for an instructor to review.

It is a scan, not a proof: code can hide from any static check. The sandbox
(autograder.containment) bounds what hidden code can reach; the scan keeps the grades honest
against the direct attempts.
"""

import ast

FORBIDDEN_CALLS = {"exec", "eval", "compile", "__import__"}
MUTATING_CALLS = {"setattr", "delattr"}
FORBIDDEN_MODULES = {"importlib", "ctypes", "gc", "builtins", "_testcapi"}
FORBIDDEN_ATTRIBUTES = {"__dict__", "__code__", "__globals__", "__builtins__", "__subclasses__",
                        "__import__",
                        # frames: the checker's locals (expected values) and code
                        "_getframe", "_current_frames", "f_back", "f_locals", "f_globals", "f_builtins",
                        "tb_frame", "gi_frame", "cr_frame", "ag_frame",
                        # hooks into every later call or cell
                        "settrace", "setprofile", "addaudithook", "displayhook", "excepthook",
                        "set_custom_exc", "input_transformers_post", "input_transformers_cleanup",
                        "ast_transformers", "shell_handlers",
                        # the insides of functions and classes of other modules
                        "__self__", "__closure__", "cell_contents", "__defaults__", "__kwdefaults__",
                        "__bases__", "__mro__"}
# functions of a module that hand out frames, by module
FORBIDDEN_FUNCTIONS = {"inspect": {"stack", "trace", "currentframe", "getouterframes", "getinnerframes"},
                       "traceback": {"walk_stack", "walk_tb"}}
# what a cell may do with get_ipython(): the calls IPython's own magics and shell escapes become
IPYTHON_ALLOWED = {"run_line_magic", "run_cell_magic", "system", "getoutput"}


def _source_for_ast(source):
    """Cell source as plain Python (IPython magics and shell escapes turned into calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _root(node):
    """The name at the root of ``a.b[c].d`` or ``getattr(a, 'b').c``, else None."""
    while True:
        if isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        elif isinstance(node, ast.Call) and node.args:
            node = node.args[0]
        elif isinstance(node, ast.Name):
            return node.id
        else:
            return None


def _module_names(tree, names):
    """Add to ``names`` every name bound by an import in ``tree`` and its plain aliases (m = np)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    grew = True
    while grew:
        grew = False
        for node in ast.walk(tree):
            if (isinstance(node, ast.Assign) and isinstance(node.value, (ast.Name, ast.Attribute))
                    and _root(node.value) in names):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id not in names:
                        names.add(target.id)
                        grew = True
    return names


def _is_sys(node, tree):
    """Whether ``node`` is a name bound to the sys module in ``tree`` (``sys.modules``, not a
    torch model's ``.modules()``)."""
    aliases = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.Import)
               for a in n.names if a.name == "sys"}
    return isinstance(node, ast.Name) and node.id in aliases | {"sys"}


def _aliases(tree, module):
    """Names bound to ``module`` by imports in ``tree``."""
    return {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.Import)
            for a in n.names if a.name == module} | {module}


def _ipython_findings(tree):
    allowed_calls = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name) and node.value.func.id == "get_ipython"):
            if node.attr in IPYTHON_ALLOWED:
                allowed_calls.add(id(node.value))
            else:
                yield node.lineno, f"uses get_ipython().{node.attr}"
    allowed_names = {id(c.func) for c in ast.walk(tree) if isinstance(c, ast.Call) and id(c) in allowed_calls}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "get_ipython" and id(node) not in allowed_names:
            yield node.lineno, "uses get_ipython() (the grader's shell)"


def _frame_findings(tree):
    for module, names in FORBIDDEN_FUNCTIONS.items():
        aliases = _aliases(tree, module)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr in names and isinstance(node.value, ast.Name)
                    and node.value.id in aliases):
                yield node.lineno, f"uses {ast.unparse(node)}"
            elif isinstance(node, ast.ImportFrom) and node.module == module:
                for a in node.names:
                    if a.name in names or a.name == "*":
                        yield node.lineno, f"imports {a.name} from {module}"


def _computed(node):
    """Whether the object of ``a.b[c].d`` is computed by a call (``type(x).f``, ``vars(m)[k]``)."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
        if isinstance(node, ast.Call):
            return True
    return False


def _mutation_findings(tree):
    """Changes to computed objects and aliases of setattr/delattr: ways around the checks above."""
    direct = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                if isinstance(target, (ast.Attribute, ast.Subscript)) and _computed(target):
                    yield node.lineno, f"changes {ast.unparse(target)}, part of a computed object"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in MUTATING_CALLS:
            if node.args and (isinstance(node.args[0], ast.Call) or _computed(node.args[0])):
                yield node.lineno, f"calls {node.func.id}() on {ast.unparse(node.args[0])}, a computed object"
        elif (isinstance(node, ast.Name) and node.id in MUTATING_CALLS | {"vars", "globals", "locals"}
              and id(node) not in direct):
            yield node.lineno, f"uses {node.id} without calling it"


def _findings(tree, modules):
    yield from _ipython_findings(tree)
    yield from _frame_findings(tree)
    yield from _mutation_findings(tree)
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                if isinstance(target, (ast.Attribute, ast.Subscript)) and _root(target) in modules:
                    yield line, f"changes {ast.unparse(target)}, part of an imported module"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in FORBIDDEN_CALLS:
                yield line, f"calls {node.func.id}()"
            elif node.func.id in MUTATING_CALLS and node.args and _root(node.args[0]) in modules:
                yield line, f"calls {node.func.id}() on {ast.unparse(node.args[0])}, an imported module"
            elif (node.func.id in ("getattr", "setattr", "delattr", "hasattr") and len(node.args) > 1
                  and isinstance(node.args[1], ast.Constant) and node.args[1].value in FORBIDDEN_ATTRIBUTES):
                yield line, f"calls {node.func.id}() for {node.args[1].value}"
        elif isinstance(node, ast.Attribute) and (
                node.attr in FORBIDDEN_ATTRIBUTES or (node.attr == "modules" and _is_sys(node.value, tree))):
            yield line, f"uses {ast.unparse(node)}"
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            for name in names:
                if name.split(".")[0] in FORBIDDEN_MODULES:
                    yield line, f"imports {name}"
            if isinstance(node, ast.ImportFrom) and node.module == "sys" and any(
                    a.name == "modules" for a in node.names):
                yield line, "imports sys.modules"


def scan(cells):
    """Findings in ``cells`` = [(cell name, source)]: a list of "cell name, line N: what it does"."""
    trees = []
    for name, source in cells:
        try:
            trees.append((name, ast.parse(_source_for_ast(source))))
        except SyntaxError:
            continue  # it fails when it runs; nothing in it can run before the tests
    modules = set()
    for _, tree in trees:
        _module_names(tree, modules)
    return [f"{name}, line {line}: {what}" for name, tree in trees for line, what in _findings(tree, modules)]


def student_cells(nb, source_nb):
    """[(name, source)] of the code cells the student controls: all but those nbgrader restores.

    nbgrader overwrites a submitted cell with the source's when their grade ids match and the
    source cell is locked or a test; every other code cell runs as the student wrote it.
    """
    restored = {c.metadata["nbgrader"]["grade_id"] for c in source_nb.cells
                if c.metadata.get("nbgrader", {}).get("locked") or c.metadata.get("nbgrader", {}).get("grade")}
    cells = []
    for index, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and grade_id not in restored:
            cells.append((grade_id or f"cell {index + 1}", cell.source))
    return cells
