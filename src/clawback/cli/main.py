"""The ``clawback`` application and its entry point, which turns every error into one line."""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
import typer.core
from typer.exceptions import TyperException

from clawback.errors import ClawbackError

__all__ = ["build_app", "run"]

# command name -> (module, attribute, is a command group). Modules are imported only for the command
# being run (every one for the top-level help), so `clawback cost` does not pay for the batch runner.
_COMMANDS: dict[str, tuple[str, str, bool]] = {
    "models": ("clawback.cli.models", "models", False),
    "cost": ("clawback.cli.cost", "cost", False),
    "estimate": ("clawback.cli.estimate", "estimate", False),
    "audit": ("clawback.cli.audit", "audit", False),
    "usage": ("clawback.cli.usage", "app", True),
    "lint": ("clawback.cli.lint", "lint", False),
    "emulate": ("clawback.cli.emulate", "emulate", False),
    "gateway": ("clawback.cli.gateway", "gateway", False),
    "ledger": ("clawback.cli.ledger", "app", True),
    "batch": ("clawback.cli.batch", "app", True),
    "eval": ("clawback.cli.eval", "app", True),
    "route": ("clawback.cli.route", "app", True),
}


def _print_version(value: bool) -> None:
    if value:
        from clawback import __version__

        sys.stdout.write(f"clawback {__version__}\n")
        raise typer.Exit(0)


def build_app(only: str | None = None) -> typer.Typer:
    """The ``clawback`` application: every command, or only ``only`` (what one invocation needs)."""
    app = typer.Typer(
        name="clawback",
        help="Cut Claude API spend: exact costs, cache planning, durable batches, audits and routing.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def _group(
        version: Annotated[
            bool,
            typer.Option(
                "--version", is_eager=True, callback=_print_version, help="Print clawback's version and exit."
            ),
        ] = False,
    ) -> None:
        """Cut Claude API spend: exact costs, cache planning, durable batches, audits and routing."""

    for name, (module, attribute, group) in _COMMANDS.items():
        if only is not None and name != only:
            continue
        target = getattr(importlib.import_module(module), attribute)
        if group:
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)
    return app


def _flags_take_no_value() -> None:
    """Show no type after on/off flags in the Rich help.

    Typer 0.2x's Rich help prints the parameter's Python type after every option, flags included
    (``--batch <bool>``, ``--help <bool>``), which reads as if the flag took a value; its plain help
    already leaves flags bare. Patched once, on the option class, so every command benefits; a
    Typer without ``display_type_rich`` is left alone.
    """
    option = getattr(typer.core, "TyperOption", None)
    original = getattr(option, "display_type_rich", None)
    if option is None or original is None or getattr(original, "_clawback_flags", False):
        return

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        if getattr(self, "is_flag", False) or getattr(self, "count", False):
            return None
        return _element_type(original(self, ctx))

    display_type_rich._clawback_flags = True  # type: ignore[attr-defined]
    option.display_type_rich = display_type_rich
    argument = getattr(typer.core, "TyperArgument", None)
    plain = getattr(argument, "display_type_rich", None)
    if argument is not None and plain is not None:
        argument.display_type_rich = lambda self, ctx: _element_type(plain(self, ctx))


def _element_type(label: str | None) -> str | None:
    """``<list[Path]>`` (a repeatable option, or an argument taking several values) as ``<path>``."""
    match = re.fullmatch(r"<list\[(\w+)\]>", label or "")
    return f"<{match.group(1).lower()}>" if match else label


_INTERRUPTED = 130


def run(argv: Sequence[str] | None = None) -> None:
    """Run the CLI; bad input exits non-zero with a one-line message, never a traceback."""
    from clawback.cli._coercion import install

    _flags_take_no_value()
    install()
    args = list(argv) if argv is not None else sys.argv[1:]
    only = args[0] if args and args[0] in _COMMANDS else None
    if only is None and args[:1] == ["--version"]:
        only = ""  # the version needs no command module (importing them all costs most of a second)
    try:
        command = typer.main.get_command(build_app(only))
        code = command.main(args=args, prog_name="clawback", standalone_mode=False)
    except ClawbackError as exc:
        _fail(str(exc), exc.exit_code)
    except typer.Abort:
        _fail("aborted", _INTERRUPTED)
    except TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `clawback` or `clawback batch`: the help is printed
            sys.exit(int(getattr(exc, "exit_code", 2)))
        fmt = getattr(exc, "format_message", None)
        _fail(fmt() if callable(fmt) else str(exc), int(getattr(exc, "exit_code", 2)))
    except KeyboardInterrupt:
        _fail("interrupted", _INTERRUPTED)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except Exception as exc:
        if os.environ.get("CLAWBACK_DEBUG"):
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (set CLAWBACK_DEBUG=1 for a traceback)", 70)
    if code == _INTERRUPTED:  # Typer turns Ctrl-C into a silent exit 130
        _fail("interrupted", _INTERRUPTED)
    code = code if isinstance(code, int) else 0
    if argv is None and only in _QUICK_EXIT:
        _quick_exit(code)
    sys.exit(code)


_QUICK_EXIT: frozenset[str | None] = frozenset({"audit", "usage"})
"""Commands that leave nothing behind once they return (their store is closed and removed, their
output written): their process ends without the interpreter's teardown."""


def _quick_exit(code: int) -> None:
    """End the process now, output flushed: tearing down every module and DuckDB's memory after an
    audit costs tens of milliseconds of CPU and saves nothing."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # a reader gone, or the stream closed: as a normal exit would
        code = code or 1
    os._exit(code)


def _fail(message: str, code: int) -> None:
    """One line on stderr, masked (no API key or password) and inert (no control characters)."""
    from clawback.cli._common import printable
    from clawback.redact import redact

    sys.stdout.flush()
    line = next((part for part in message.splitlines() if part.strip()), "failed")
    sys.stderr.write(f"clawback: error: {printable(redact(line))}\n")
    sys.exit(code)
