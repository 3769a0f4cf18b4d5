from __future__ import annotations

import inspect

import pytest

import steadyllm as sl


def test_all_lists_exactly_the_public_names() -> None:
    for name in sl.__all__:  # names load on first access
        getattr(sl, name)
    assert set(dir(sl)) >= set(sl.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        sl.nothing_here  # noqa: B018
    public = {name for name in vars(sl) if not name.startswith("_")}
    modules = {name for name in public if inspect.ismodule(getattr(sl, name))}
    assert set(sl.__all__) == (public - modules) | {"__version__"}
    assert len(sl.__all__) == len(set(sl.__all__)), "duplicates in __all__"


def test_every_export_resolves() -> None:
    for name in sl.__all__:
        assert getattr(sl, name) is not None, name


def test_error_classes_are_all_exported() -> None:
    for cls in (c for c in vars(sl).values() if isinstance(c, type) and issubclass(c, sl.LLMError)):
        assert cls.__name__ in sl.__all__


def test_version_is_a_release_string() -> None:
    parts = sl.__version__.split(".")
    assert len(parts) == 3 and all(p.isdigit() for p in parts)
