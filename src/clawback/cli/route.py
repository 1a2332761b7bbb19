"""``clawback route``: show the routing config, and the decision it makes for a request."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from clawback.cli._common import console, err_console, plain, print_json
from clawback.errors import UsageError
from clawback.safe_input import loads, read_input

__all__ = ["app"]

app = typer.Typer(
    help="Routing: the rules, learned routers and per-task verdicts clawback applies per call.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--routing-config", help="Routing config ($CLAWBACK_ROUTING, else $CLAWBACK_HOME/routing.toml)."
    ),
]


def _config_path(path: Path | None) -> Path:
    from clawback.cli.eval import default_routing_config

    return path or default_routing_config()


@app.command("show")
def show(routing_config: ConfigOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print the routing config: verdicts with their evidence, learned routers, rules."""
    from clawback.routing.config import read_routing_file

    path = _config_path(routing_config)
    if routing_config is None and not path.exists():
        _no_config(path)
        if as_json:
            print_json({})
        return
    spec = read_routing_file(path)
    if as_json:
        print_json(spec.model_dump(mode="json", by_alias=True, exclude_none=True))
        return
    out = console()
    table = Table(title=f"task verdicts in {plain(path)}", title_justify="left")
    for column in ("task", "verdict", "model", "escalate to", "agreement [95% CI]", "n", "decided"):
        table.add_column(column)
    for name, v in spec.tasks.items():
        e = v.evidence
        ci = f"{e.agreement:.3f} [{e.ci_low:.3f}, {e.ci_high:.3f}]" if e else ""
        table.add_row(
            plain(name), plain(v.verdict), plain(v.model or v.reference or ""), plain(v.escalate_to or ""),
            ci, str(e.sample_size) if e else "", e.decided.isoformat() if e else "",
        )  # fmt: skip
    out.print(table)
    for task, s in spec.learned.items():
        out.print(
            f"learned router for {plain(task)}: {plain(s.model_file)} ({plain(s.cheap)} if P(cheap ok) "
            f">= {s.threshold:g}, else {plain(s.strong)})"
        )
    for i, r in enumerate(spec.rules, 1):
        out.print(f"rule {i} {plain(repr(r.name))}: -> {plain(r.model)}")
    if spec.default_model:
        out.print(f"default model: {plain(spec.default_model)}")


def _body(text: str) -> Any:
    if text != "-" and text.lstrip().startswith(("{", "[")):
        body = loads(text, "--body")
    else:
        body = loads(read_input(text, f"request body {text}"), f"request body {text}")
    if not isinstance(body, dict):
        raise UsageError("--body must be a JSON object (a Messages request body)")
    return body


@app.command("decide")
def decide(
    body: Annotated[
        str, typer.Option("--body", help="A Messages request body: JSON, a file, or - for stdin.")
    ],
    task: Annotated[str | None, typer.Option("--task", help="The call's task tag.")] = None,
    routing_config: ConfigOpt = None,
) -> None:
    """Print the routing decision the client would make for one request (JSON)."""
    from clawback.routing.config import load_routing_config
    from clawback.routing.route import RoutingConfig, route

    path = _config_path(routing_config)
    request = _body(body)
    if routing_config is None and not path.exists():  # what the client does: every call passes through
        _no_config(path)
        config = RoutingConfig()
    else:
        config = load_routing_config(path)
    print_json(route(request, task, config).to_json())


def _no_config(path: Path) -> None:
    err_console().print(
        f"note: no routing config at {plain(path)} yet, so every call keeps its model "
        "(clawback eval --write-verdict writes one; see docs/routing.md)",
        soft_wrap=True,
        highlight=False,
    )
