"""Frozen dataclasses that are cheap to make: the value objects made for every event and every booking.

dataclasses writes a frozen class's __init__ as one object.__setattr__ call per field (a plain
assignment would meet the frozen __setattr__), about 1 µs for seven fields; a dry-run worker makes five
such objects an event, a fifth of what handling one costs. `quick_init` replaces that __init__ with one
of the same signature that hands the instance its whole __dict__ in one call. Everything else (eq, hash,
repr, replace, FrozenInstanceError on assignment) stays the dataclass's own.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="type[DataclassInstance]")
_OWN = "_quick_"  # the generated __init__'s own names start so; no field may


def quick_init(cls: T) -> T:
    """Apply to a frozen dataclass (decorators below this one) whose fields all live in its instance
    dict and are all set by its __init__: slots (its own or a base's), __post_init__, InitVars,
    init=False fields and default factories are refused here, at import, rather than mishandled."""
    params = getattr(cls, "__dataclass_params__", None)
    slotted = any(vars(base).get("__slots__") for base in cls.__mro__[:-1])
    if params is None or not params.frozen or slotted or hasattr(cls, "__post_init__"):
        raise TypeError(f"quick_init takes a frozen dataclass without slots or __post_init__: {cls.__name__}")
    positional: list[str] = []
    keyword: list[str] = []
    defaults: dict[str, Any] = {}
    fields = dataclasses.fields(cls)
    for f in fields:
        if not f.init or f.default_factory is not dataclasses.MISSING or f.name.startswith(_OWN):
            raise TypeError(f"quick_init: {cls.__name__}.{f.name}: init=False, a default factory or its name")
        param = f.name
        if f.default is not dataclasses.MISSING:
            defaults[f"{_OWN}default_{f.name}"] = f.default
            param += f"={_OWN}default_{f.name}"
        (keyword if f.kw_only else positional).append(param)
    signature = ", ".join(["self", *positional, *(["*", *keyword] if keyword else [])])
    state = ", ".join(f"{f.name!r}: {f.name}" for f in fields)
    source = f"def __init__({signature}) -> None:\n    {_OWN}set(self, '__dict__', {{{state}}})\n"
    namespace: dict[str, Any] = {}
    exec(source, {f"{_OWN}set": object.__setattr__, **defaults}, namespace)  # noqa: S102  (field names only)
    init = namespace["__init__"]
    if _parameters(init) != _parameters(cls.__init__):  # an InitVar, or anything else this does not know
        raise TypeError(f"quick_init: {cls.__name__}'s __init__ takes more than its fields")
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


def _parameters(init: Any) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(init).parameters.values()]
