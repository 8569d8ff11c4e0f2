"""Every error class follows the one naming rule, and docs/architecture.md's Error map draws every one.

The classes are found, not listed: every module under naver_sms is imported and the exception classes
defined there are walked from BaseException, so a new class that nobody mapped fails here."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import naver_sms
from naver_sms.application.errors import INTERNAL, described, error_message, error_type

ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def subclasses(root: type[BaseException]) -> Iterator[type[BaseException]]:
    for child in root.__subclasses__():
        yield child
        yield from subclasses(child)


def error_classes() -> list[type[BaseException]]:
    for module in pkgutil.walk_packages(naver_sms.__path__, "naver_sms."):
        importlib.import_module(module.name)
    ours = {c for c in subclasses(BaseException) if c.__module__.startswith("naver_sms.")}
    return sorted(ours, key=lambda c: (c.__module__, c.__qualname__))


ERRORS = error_classes()


def error_map() -> str:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    start = text.index("\n## Error map\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def mapped_names() -> list[str]:
    """The first cell of each row of the Error map's table."""
    return re.findall(r"^\| `(\w+)` \|", error_map(), flags=re.MULTILINE)


def an_instance(cls: type[BaseException]) -> BaseException:
    err = cls.__new__(cls)
    err.args = ("what went wrong",)
    return err


def test_the_walk_finds_the_errors_of_every_layer() -> None:
    # A walk that silently found nothing would pass every test below.
    layers = {c.__module__.split(".")[1] for c in ERRORS}
    assert {"domain", "application", "adapters", "settings", "entrypoints"} <= layers


@pytest.mark.parametrize("cls", ERRORS, ids=lambda c: c.__name__)
def test_each_error_is_named_by_its_class(cls: type[BaseException]) -> None:
    err = an_instance(cls)
    assert error_type(err) == cls.__name__ != INTERNAL
    assert error_message(err) == "what went wrong"
    assert described(err) == f"{cls.__name__}: what went wrong"
    assert not hasattr(cls, "kind"), "the class's name is its name: no second one to drift from it"


def test_error_names_are_unique() -> None:
    repeated = [name for name, n in Counter(c.__name__ for c in ERRORS).items() if n > 1]
    assert repeated == [], "two classes would report one error.type"


def test_any_other_error_is_internal_and_keeps_its_class_in_the_message() -> None:
    err = KeyError("booking_id")
    assert (error_type(err), error_message(err)) == (INTERNAL, "KeyError: 'booking_id'")
    assert described(TimeoutError()) == "InternalError: TimeoutError"


def test_the_error_map_has_a_row_for_every_error_class() -> None:
    missing = sorted({c.__name__ for c in ERRORS} - set(mapped_names()))
    assert missing == [], "add these to docs/architecture.md's Error map"


def test_the_error_map_names_no_class_that_is_gone() -> None:
    names = mapped_names()
    stale = sorted(set(names) - {c.__name__ for c in ERRORS} - {INTERNAL})
    assert stale == [] and len(names) == len(set(names))


def test_the_error_maps_tree_draws_every_class() -> None:
    tree = error_map().split("```")[1]
    drawn = set(re.findall(r"[─└├]── (\w+)", tree))
    assert {c.__name__ for c in ERRORS} <= drawn
