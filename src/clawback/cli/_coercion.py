"""Parameter coercion for plain CLI values without pydantic (start-up time).

Typer 0.2x coerces every parameter value through a pydantic ``TypeAdapter``, so any command with a
text or path option imports pydantic and builds an adapter per parameter: about 0.1 s of CPU on
each run, a fifth of ``clawback usage``'s whole time on a small log. :func:`install` wraps Typer's
``build_runtime_param`` so that the plainest annotations — ``str``, ``bool``, ``Path`` without
checks, ``int`` without a range, and lists of them — are coerced directly; everything else (choices,
ranges, files, custom parsers, checked paths) still goes through Typer's own coercion.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

__all__ = ["install"]

_TRUE = frozenset({"true", "1", "yes", "y", "on", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "off", "f"})


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(text)


_bool.__name__ = "boolean"
_PLAIN: dict[Any, Any] = {str: str, Path: Path, int: int, bool: _bool}


def _leaf(annotation: Any) -> Any:
    """The plain type of ``annotation`` (or of its list), None when it is not plain."""
    if get_origin(annotation) is list:
        args = get_args(annotation)
        return _PLAIN.get(args[0]) if len(args) == 1 else None
    return _PLAIN.get(annotation)


def _unchecked(info: Any) -> bool:
    """True when a parameter carries no parser, range or path check that Typer's own coercion applies."""
    flags = ("parser", "min", "max", "click_type")
    if any(getattr(info, name, None) is not None for name in flags):
        return False
    return not any(getattr(info, name, False) for name in ("exists", "resolve_path", "allow_dash", "clamp"))


def install() -> None:
    """Make Typer coerce plain parameters without pydantic (idempotent; a no-op on Typers without the hook)."""
    try:
        import typer.core
        from typer import _coercion
        from typer._click.exceptions import BadParameter
    except ImportError:
        return
    original = getattr(typer.core, "build_runtime_param", None)
    if original is None or getattr(original, "_clawback_plain", False):
        return

    @dataclass(frozen=True)
    class PlainRuntimeParam(_coercion.RuntimeParam):
        convert: Any = str

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            def one(item: Any) -> Any:
                if isinstance(item, bytes):
                    item = item.decode("utf-8", "replace")
                try:
                    return self.convert(item)
                except (TypeError, ValueError):
                    raise BadParameter(
                        f"{item!r} is not a valid {self.convert.__name__}.", ctx=ctx, param=param
                    ) from None

            if isinstance(value, list | tuple):
                return [one(item) for item in value]
            return one(value)

    def build_runtime_param(descriptor: Any) -> Any:
        leaf = _leaf(descriptor.annotation)
        if leaf is not None and descriptor.file_annotation is None and _unchecked(descriptor.parameter_info):
            return PlainRuntimeParam(
                parameter_info=descriptor.parameter_info, annotation=descriptor.annotation, convert=leaf
            )
        return original(descriptor)

    build_runtime_param._clawback_plain = True  # type: ignore[attr-defined]
    setattr(typer.core, "build_runtime_param", build_runtime_param)  # noqa: B010 (not exported)
