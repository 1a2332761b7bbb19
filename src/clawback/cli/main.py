"""The ``clawback`` application and its entry point, which turns every error into one line."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import typer
import typer.core
from typer.exceptions import TyperException

from clawback.cli import audit as audit_cmd
from clawback.cli import batch as batch_cmd
from clawback.cli import cost as cost_cmd
from clawback.cli import emulate as emulate_cmd
from clawback.cli import estimate as estimate_cmd
from clawback.cli import eval as eval_cmd
from clawback.cli import ledger as ledger_cmd
from clawback.cli import lint as lint_cmd
from clawback.cli import models as models_cmd
from clawback.cli import route as route_cmd
from clawback.errors import ClawbackError

__all__ = ["app", "run"]

app = typer.Typer(
    name="clawback",
    help="Cut Claude API spend: exact costs, cache planning, durable batches, audits and routing.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
app.command("models")(models_cmd.models)
app.command("cost")(cost_cmd.cost)
app.command("estimate")(estimate_cmd.estimate)
app.command("audit")(audit_cmd.audit)
app.command("lint")(lint_cmd.lint)
app.command("emulate")(emulate_cmd.emulate)
app.add_typer(ledger_cmd.app, name="ledger")
app.add_typer(batch_cmd.app, name="batch")
app.add_typer(eval_cmd.app, name="eval")
app.add_typer(route_cmd.app, name="route")


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
        result: str | None = original(self, ctx)
        return result

    display_type_rich._clawback_flags = True  # type: ignore[attr-defined]
    option.display_type_rich = display_type_rich


def run(argv: Sequence[str] | None = None) -> None:
    """Run the CLI; bad input exits non-zero with a one-line message, never a traceback."""
    _flags_take_no_value()
    command = typer.main.get_command(app)
    try:
        code = command.main(
            args=list(argv) if argv is not None else None, prog_name="clawback", standalone_mode=False
        )
    except ClawbackError as exc:
        _fail(str(exc), exc.exit_code)
    except typer.Abort:
        _fail("aborted", 130)
    except TyperException as exc:
        fmt = getattr(exc, "format_message", None)
        _fail(fmt() if callable(fmt) else str(exc), int(getattr(exc, "exit_code", 2)))
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except Exception as exc:
        if os.environ.get("CLAWBACK_DEBUG"):
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (set CLAWBACK_DEBUG=1 for a traceback)", 70)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> None:
    sys.stdout.flush()
    sys.stderr.write(f"clawback: error: {message.splitlines()[0] if message else 'failed'}\n")
    sys.exit(code)
