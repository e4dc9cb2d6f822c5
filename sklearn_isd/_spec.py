"""Estimators as JSON specs, rebuilt without running code (private).

A campaign file names its estimator as a *spec*::

    {"__estimator__": "sklearn.linear_model.LogisticRegression",
     "params": {"C": 0.5, "max_iter": 1000}}

The grammar admits JSON scalars, lists, string-keyed dicts (``{"__dict__":
...}``) and tuples (``{"__tuple__": [...]}``) of them, nested estimator
specs, and a few classes as parameter values (``{"__class__": ...}``): a
torch module or optimizer class, a numpy scalar type. It never admits a
function or any other callable. This is a trust model by *kind*, not by
module: a module name such as ``sklearn.`` or ``numpy.`` holds functions
that run anything (``subprocess.check_output`` is re-exported in
``sklearn.utils._testing``), so a name is resolved to an object first, and
the object is used only if it is a class of an admitted kind:

- ``__estimator__``: a subclass of :class:`sklearn.base.BaseEstimator`
  defined in scikit-learn, sklearn-isd or skorch, under a module prefix the
  caller trusts (``trusted=``), or one of the classes the caller passes
  (``estimators=``). Such classes only store their parameters when built
  (the scikit-learn convention), and a parameter that would make an
  estimator write files (``memory``) must be None.
- ``__class__``: a subclass of ``torch.nn.Module`` or ``torch.optim.Optimizer``
  defined in torch or sklearn-isd, a numpy scalar type, or a class the
  caller passes.

Resolving a name imports a module of scikit-learn, sklearn-isd, skorch,
torch or numpy (or a trusted prefix) and reads attributes; nothing is called
before the object passed the check.
"""

import importlib
import re

import numpy as np
from sklearn.base import BaseEstimator

__all__ = ["SpecError", "SpecLoader", "to_spec"]

#: Where estimator classes are looked up (and classes of parameters).
ESTIMATOR_MODULES = ("sklearn.", "sklearn_isd.", "skorch.")
CLASS_MODULES = ("torch.", "sklearn_isd.", "numpy.")
#: Nesting of a spec beyond which it is refused (a real one nests < 10).
MAX_DEPTH = 32
#: Parameters that would make an estimator write files: must be None.
_WRITING_PARAMS = {"memory"}
_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")


class SpecError(ValueError):
    """A spec that the grammar does not admit."""


def to_spec(obj):
    """Encode an estimator (or parameter value) as JSON-compatible data.

    Raises
    ------
    TypeError
        For values that have no safe JSON form (functions, arrays, ...).
    """
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, list):
        return [to_spec(v) for v in obj]
    if isinstance(obj, tuple):
        return {"__tuple__": [to_spec(v) for v in obj]}
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            raise TypeError("only dicts with string keys can be stored")
        return {"__dict__": {k: to_spec(v) for k, v in obj.items()}}
    if isinstance(obj, BaseEstimator):
        return {
            "__estimator__": _path_of(type(obj)),
            "params": {k: to_spec(v) for k, v in obj.get_params(deep=False).items()},
        }
    if isinstance(obj, type):
        return {"__class__": _path_of(obj)}
    raise TypeError(f"a value of type {type(obj).__name__} cannot be stored as JSON")


def _path_of(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def _admitted_class_bases():
    """Classes a ``__class__`` entry may subclass (torch only if installed)."""
    bases = [np.generic]
    try:
        import torch
    except ImportError:
        return tuple(bases)
    return (*bases, torch.nn.Module, torch.optim.Optimizer)


class SpecLoader:
    """Rebuild what :func:`to_spec` encoded, admitting classes by kind.

    Parameters
    ----------
    estimators : sequence of classes, default=()
        Classes the caller trusts (its own estimators or modules), admitted
        by identity: a spec naming ``module.QualName`` of one of them gets it.
    trusted : sequence of str, default=()
        Extra module prefixes where estimator classes (subclasses of
        ``BaseEstimator``) may be looked up; functions stay refused.
    """

    def __init__(self, estimators=(), trusted=()):
        for cls in estimators:
            if not isinstance(cls, type):
                raise TypeError(
                    f"estimators= takes classes; got {cls!r}. Pass the class "
                    "itself, e.g. estimators=[MyClassifier]."
                )
        self.given = {_path_of(cls): cls for cls in estimators}
        self.trusted = tuple(trusted)

    def load(self, spec, field="estimator"):
        """The object of ``spec``; :class:`SpecError` naming ``field`` if refused."""
        return self._load(spec, field, 0)

    def _load(self, spec, field, depth):
        if depth > MAX_DEPTH:
            raise SpecError(f"{field}: nested more than {MAX_DEPTH} levels deep")
        if spec is None or isinstance(spec, bool | int | float | str):
            return spec
        if isinstance(spec, list):
            return [
                self._load(v, f"{field}[{i}]", depth + 1) for i, v in enumerate(spec)
            ]
        if not isinstance(spec, dict) or len(spec) not in (1, 2):
            raise SpecError(f"{field}: not a value of the spec grammar: {_short(spec)}")
        if set(spec) == {"__tuple__"} and isinstance(spec["__tuple__"], list):
            return tuple(self._load(spec["__tuple__"], field, depth + 1))
        if set(spec) == {"__dict__"} and isinstance(spec["__dict__"], dict):
            items = spec["__dict__"].items()
            return {k: self._load(v, f"{field}.{k}", depth + 1) for k, v in items}
        if set(spec) == {"__class__"}:
            return self._class(spec["__class__"], field)
        if set(spec) == {"__estimator__", "params"}:
            return self._estimator(spec, field, depth)
        raise SpecError(f"{field}: not a value of the spec grammar: {_short(spec)}")

    def _estimator(self, spec, field, depth):
        cls = self._resolve(spec["__estimator__"], field, ESTIMATOR_MODULES)
        if not (isinstance(cls, type) and issubclass(cls, BaseEstimator)):
            raise SpecError(
                f"{field}: {spec['__estimator__']!r} is not an estimator class; a "
                "campaign file names estimator classes only, never functions."
            )
        params = spec["params"]
        if not isinstance(params, dict):
            raise SpecError(f"{field}.params: not a dict of parameters")
        values = {}
        for name, value in params.items():
            values[name] = self._load(value, f"{field}.params.{name}", depth + 1)
            if name in _WRITING_PARAMS and values[name] is not None:
                raise SpecError(
                    f"{field}.params.{name}: must be None in a campaign file (it "
                    "would make the estimator write files); pass the estimator "
                    "yourself with estimator=..."
                )
        try:
            return cls(**values)
        except (TypeError, ValueError) as exc:
            raise SpecError(f"{field}: {cls.__name__}(...) refused: {exc}") from None

    def _class(self, path, field):
        cls = self._resolve(path, field, CLASS_MODULES)
        if path in self.given:
            return cls
        if not (isinstance(cls, type) and issubclass(cls, _admitted_class_bases())):
            raise SpecError(
                f"{field}: {path!r} is not an admitted class (a torch module or "
                "optimizer, or a numpy scalar type); functions are never admitted."
            )
        return cls

    def _resolve(self, path, field, modules):
        """The object a dotted path names, looked up without calling anything."""
        if not isinstance(path, str) or not _PATH.fullmatch(path) or len(path) > 300:
            raise SpecError(f"{field}: {_short(path)} is not a dotted class path")
        if path in self.given:
            return self.given[path]
        if not any(path.startswith(p) for p in (*modules, *self.trusted)):
            raise SpecError(
                f"{field}: {path!r} is outside the modules a campaign file may name "
                f"({', '.join(modules)} and trusted=); pass the class with "
                "estimators=[...] to load() if you trust it, or the estimator "
                "itself with estimator=..."
            )
        parts = path.split(".")
        for cut in range(len(parts) - 1, 0, -1):  # the longest importable module
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            try:
                for name in parts[cut:]:
                    obj = getattr(obj, name)
            except AttributeError:
                break
            return obj
        raise SpecError(f"{field}: {path!r} does not exist in this installation")


def _short(value, limit=80):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
