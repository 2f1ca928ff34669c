"""What crosses between the trusted grader and the student's kernel: plain data, never pickles.

Both sides of autograder.channel use :func:`encode` and :func:`decode`. A value becomes a tree of
JSON objects, each with one tag:

=========  ==========================================================================
``n``      None
``b i f``  bool, int (as text), float (as ``repr``: nan and inf survive)
``c``      complex, ``[real, imag]``
``s y``    str, bytes (base64)
``r``      a numpy array or scalar: its raw bytes (base64) with ``dtype`` (``dtype.str``),
           ``shape`` and ``F`` (Fortran order); numeric and boolean dtypes only; ``scalar``
           marks a numpy scalar (read with ``np.frombuffer``: a tenth of the time of ``.npy``,
           whose header numpy parses as Python literals)
``a``      the same as ``.npy`` bytes (base64), read with ``allow_pickle=False`` (still read)
``o``      an object array: its shape and its items, each encoded
``t l d``  tuple, list, dict (``[[key, value], ...]``)
``tensor`` a torch tensor (``.npy`` bytes, ``grad``: requires_grad)
``gen``    a numpy Generator: the name of its bit generator and its state
``ref``    a function or class of the course's public package (rnn_course.callbacks, .given),
           by name; ``state`` rebuilds an instance of such a class from its attributes
``h``      a handle: an object that stays on the sending side (a student's cache, model or
           function), with its type name, ``__name__`` and whether it can be called
=========  ==========================================================================

:func:`decode` refuses anything else, and stops at :data:`LIMITS` (nesting depth, number of
items, bytes of array data, length of a string): what a kernel sends is read as data, whatever
it is. Everything the receiving side cannot take as data it sends as a handle, through the
``handle`` callback of :func:`encode`.
"""

import base64
import importlib
import io
import math

import numpy as np

PUBLIC_MODULES = ("rnn_course.callbacks", "rnn_course.given")  # resolved by name on both sides
LIMITS = {"depth": 40, "items": 200_000, "bytes": 256 * 2**20, "text": 4 * 2**20}
_KINDS = "biufc"  # bool, signed and unsigned ints, floats, complex


class WireError(ValueError):
    """A message that is not in the wire format, or over a limit."""


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _raw(array, **marks):
    """{"r": ...} of a numeric array (see the module docstring)."""
    fortran = array.ndim > 1 and array.flags.f_contiguous and not array.flags.c_contiguous
    tree = {"r": base64.b64encode(array.tobytes(order="F" if fortran else "C")).decode("ascii"),
            "dtype": array.dtype.str, "shape": list(array.shape), **marks}
    if fortran:
        tree["F"] = 1
    return tree


def public_name(value):
    """'module:qualname' of a function or class of :data:`PUBLIC_MODULES`, or None."""
    module = getattr(value, "__module__", None)
    name = getattr(value, "__qualname__", None)
    if module in PUBLIC_MODULES and isinstance(name, str) and "<" not in name:
        try:
            if _resolve(f"{module}:{name}") is value:
                return f"{module}:{name}"
        except WireError:
            return None
    return None


def _resolve(ref):
    """The function or class ``module:qualname`` names, defined in that public module itself: a
    name the module only imported (``rnn_course.given:np.load``, or anything reached through it) is
    refused, since a kernel could otherwise hand the grader any function of numpy or ctypes."""
    module, _, name = str(ref).partition(":")
    parts = name.split(".")
    if module not in PUBLIC_MODULES or not name or len(parts) > 2 or any(not p or p.startswith("_") for p in parts):
        raise WireError(f"not a public name of the course: {ref!r:.80}")
    value = importlib.import_module(module)
    for k, part in enumerate(parts):
        value = vars(value).get(part) if k == 0 else getattr(value, part, None)
        if k < len(parts) - 1 and not (isinstance(value, type) and value.__module__ == module):
            value = None  # only a method of a class of the module itself
            break
    if value is None or not callable(value) or getattr(value, "__module__", None) != module:
        raise WireError(f"no such function in the course's package: {ref!r:.80}")
    return value


def encode(value, handle, depth=0):
    """``value`` as a JSON-ready tree; ``handle(value)`` encodes what is not data (returns a dict)."""
    if depth > LIMITS["depth"]:
        raise WireError("the value is nested too deeply to send")
    if value is None:
        return {"n": 0}
    if isinstance(value, np.generic) and value.dtype.kind in _KINDS:
        return _raw(np.asarray(value), scalar=1)
    # subclasses (an IntEnum, a namedtuple, an OrderedDict) cross as their plain base type
    if isinstance(value, bool):
        return {"b": bool(value)}
    if isinstance(value, int):
        return {"i": str(int(value))}
    if isinstance(value, float):
        return {"f": repr(float(value))}
    if isinstance(value, complex):
        return {"c": [repr(value.real), repr(value.imag)]}
    if isinstance(value, str):
        return {"s": str(value)}
    if isinstance(value, bytes):
        return {"y": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, np.ndarray):
        if value.dtype.kind in _KINDS and not value.dtype.hasobject and value.dtype.fields is None:
            return _raw(np.asarray(value))
        if value.dtype.kind == "O":
            return {"o": list(value.shape), "items": [encode(v, handle, depth + 1) for v in value.ravel()]}
        return handle(value)
    if isinstance(value, (tuple, list)):
        return {"t" if isinstance(value, tuple) else "l": [encode(v, handle, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"d": [[encode(k, handle, depth + 1), encode(v, handle, depth + 1)] for k, v in value.items()]}
    if isinstance(value, np.random.Generator):
        state = value.bit_generator.state
        if type(value.bit_generator).__module__.startswith("numpy.random") and _plain(state):
            return {"gen": type(value.bit_generator).__name__, "state": encode(state, handle, depth + 1)}
    if type(value).__module__ == "torch" and type(value).__name__ in ("Tensor", "Parameter"):
        tensor = value.detach().cpu()
        return {"tensor": _npy(tensor.numpy()), "grad": bool(value.requires_grad)}
    name = public_name(value)
    if name is not None:
        return {"ref": name}
    name = public_name(type(value))
    if name is not None and isinstance(getattr(value, "__dict__", None), dict):
        return {"ref": name, "state": encode(dict(vars(value)), handle, depth + 1)}
    return handle(value)


def _plain(value):
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return isinstance(value, (int, float, str, np.ndarray)) or value is None


class _Budget:
    def __init__(self):
        self.items, self.bytes = 0, 0

    def count(self, items=1, size=0):
        self.items += items
        self.bytes += size
        if self.items > LIMITS["items"]:
            raise WireError(f"more than {LIMITS['items']} values in one message")
        if self.bytes > LIMITS["bytes"]:
            raise WireError(f"more than {LIMITS['bytes'] // 2**20} MB of data in one message")


def _text(value):
    if not isinstance(value, str):
        raise WireError("a text field is not a string")
    if len(value) > LIMITS["text"]:
        raise WireError(f"a string over {LIMITS['text']} characters")
    return value


def _array(text, budget):
    raw = base64.b64decode(_text(text), validate=True)
    budget.count(size=len(raw))
    try:
        array = np.load(io.BytesIO(raw), allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 (anything np.load refuses is garbage here)
        raise WireError(f"an array that cannot be read: {type(exc).__name__}") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in _KINDS or array.dtype.hasobject:
        raise WireError("an array of a type other than numbers or booleans")
    return array


def _raw_array(tree, budget):
    raw = base64.b64decode(_text(tree["r"]), validate=True)
    budget.count(size=len(raw))
    dtype = np.dtype(_text(tree.get("dtype")))
    if dtype.kind not in _KINDS or dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise WireError("an array of a type other than numbers or booleans")
    shape = tree.get("shape")
    if not isinstance(shape, list) or len(shape) > 32 or not all(type(n) is int and n >= 0 for n in shape):
        raise WireError("an array whose shape is not a list of sizes")
    if math.prod(shape) * dtype.itemsize != len(raw):
        raise WireError("an array whose data does not fit its shape")
    array = np.frombuffer(raw, dtype=dtype).reshape(shape, order="F" if tree.get("F") == 1 else "C")
    return array.copy(order="K")


def decode(tree, handle, budget=None, depth=0):
    """The value of an encoded ``tree``; ``handle(spec)`` makes the object for a handle spec.

    Raises WireError for anything outside the format or over :data:`LIMITS`.
    """
    budget = budget or _Budget()
    if depth > LIMITS["depth"]:
        raise WireError(f"nesting deeper than {LIMITS['depth']}")
    if not isinstance(tree, dict) or not tree:
        raise WireError("a value that is not in the wire format")
    budget.count()
    tag = next(iter(tree))
    body = tree[tag]
    try:
        if tag == "n":
            return None
        if tag == "b":
            if type(body) is not bool:
                raise WireError("a bool that is not true or false")
            return body
        if tag == "i":
            if len(_text(body)) > 4300:
                raise WireError("an integer too long")
            return int(body)
        if tag == "f":
            return float(_text(body))
        if tag == "c":
            return complex(float(_text(body[0])), float(_text(body[1])))
        if tag == "s":
            return _text(body)
        if tag == "y":
            raw = base64.b64decode(_text(body), validate=True)
            budget.count(size=len(raw))
            return raw
        if tag == "r":
            array = _raw_array(tree, budget)
            return array[()] if tree.get("scalar") else array
        if tag == "a":
            array = _array(body, budget)
            return array[()] if tree.get("scalar") else array
        if tag == "o":
            shape = tuple(int(n) for n in body)
            items = tree.get("items")
            if not isinstance(items, list) or math.prod(shape) != len(items) or any(n < 0 for n in shape):
                raise WireError("an object array whose items do not fit its shape")
            out = np.empty(len(items), dtype=object)
            for k, item in enumerate(items):
                out[k] = decode(item, handle, budget, depth + 1)
            return out.reshape(shape)
        if tag in ("t", "l"):
            if not isinstance(body, list):
                raise WireError("a sequence that is not a list")
            items = [decode(v, handle, budget, depth + 1) for v in body]
            return tuple(items) if tag == "t" else items
        if tag == "d":
            if not isinstance(body, list):
                raise WireError("a dict that is not a list of pairs")
            out = {}
            for pair in body:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise WireError("a dict item that is not a pair")
                key = decode(pair[0], handle, budget, depth + 1)
                if not isinstance(key, (str, int, float, bool, tuple, type(None))):
                    raise WireError("a dict key that is not a plain value")
                out[key] = decode(pair[1], handle, budget, depth + 1)
            return out
        if tag == "gen":
            cls = getattr(np.random, _text(body), None)
            if cls not in (np.random.PCG64, np.random.PCG64DXSM, np.random.Philox, np.random.SFC64,
                           np.random.MT19937):
                raise WireError("an unknown bit generator")
            bits = cls()
            bits.state = decode(tree.get("state"), handle, budget, depth + 1)
            return np.random.Generator(bits)
        if tag == "tensor":
            import torch

            tensor = torch.from_numpy(np.array(_array(body, budget)))
            return tensor.requires_grad_(True) if tree.get("grad") is True and tensor.is_floating_point() else tensor
        if tag == "ref":
            value = _resolve(body)
            if "state" in tree:
                if not isinstance(value, type):
                    raise WireError("a state for something that is not a class")
                state = decode(tree["state"], handle, budget, depth + 1)
                if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
                    raise WireError("an object state that is not a dict of names")
                obj = value.__new__(value)
                obj.__dict__.update(state)
                return obj
            return value
        if tag == "h":
            return handle(tree)
    except WireError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        raise WireError(f"a malformed {tag!r} value ({type(exc).__name__})") from None
    raise WireError(f"an unknown tag {str(tag)[:20]!r}")
