"""The control API under ``/_emulator/``: move the clock, read stats and the log, script, reset.

Not part of the Claude API and not logged. Endpoints (JSON in and out)::

    GET  /_emulator/health                 {"ok": true}
    GET  /_emulator/clock                  {"now": 1764000000.0, "iso": "...", "mode": "manual"}
    POST /_emulator/clock/advance          {"seconds": 300}          -> the clock after
    GET  /_emulator/stats                  counters and usage totals per model and tier
    GET  /_emulator/log?after=0&limit=1000 {"data": [records], "last_seq": N}
    POST /_emulator/script                 {"replies": [ScriptedReply, ...]} queued first-in first-out
    DELETE /_emulator/script               empty the queue
    PUT  /_emulator/faults                 {"faults": [...], "batch_faults": [...]} replace the rules
    POST /_emulator/reset                  forget cache, batches, log, stats, script, fault counts
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from clawback.emulator.clock import iso
from clawback.emulator.config import BatchFaultRule, FaultRule, ScriptedReply, describe_validation_error
from clawback.emulator.state import EmulatorState
from clawback.emulator.wire import ApiError, dumps, error_body, invalid_request, new_id
from clawback.errors import InputFileError
from clawback.safe_input import loads

__all__ = ["routes"]

_MAX_ADVANCE = 100 * 365 * 86_400.0

Handler = Callable[[EmulatorState, dict[str, Any]], dict[str, Any]]


def _control(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        state: EmulatorState = request.app.state.emulator
        request_id = new_id("req")
        headers = {"request-id": request_id}
        try:
            raw = await request.body()
            payload = loads(raw, "control request body") if raw else {}
            if not isinstance(payload, dict):
                raise ValueError("expected a JSON object")
            result = handler(state, {**dict(request.query_params), **payload})
            return Response(dumps(result), 200, headers, "application/json")
        except ValidationError as exc:
            err = invalid_request(describe_validation_error(exc))
        except (ValueError, TypeError, InputFileError) as exc:
            err = invalid_request(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        except ApiError as exc:
            err = exc
        return Response(error_body(err, request_id), err.status, headers, "application/json")

    endpoint.__name__ = handler.__name__
    return endpoint


def _clock(state: EmulatorState) -> dict[str, Any]:
    now = state.clock.now()
    return {"now": now, "iso": iso(now), "mode": state.clock.mode}


def health(state: EmulatorState, _: dict[str, Any]) -> dict[str, Any]:
    """Liveness."""
    return {"ok": True}


def clock(state: EmulatorState, _: dict[str, Any]) -> dict[str, Any]:
    """The virtual time."""
    return _clock(state)


def advance(state: EmulatorState, payload: dict[str, Any]) -> dict[str, Any]:
    """Move the clock forward by ``seconds``."""
    seconds = float(payload.get("seconds", 0))
    if not 0 <= seconds <= _MAX_ADVANCE:
        raise ValueError(f"seconds must be a number from 0 to {_MAX_ADVANCE:,.0f} (100 years)")
    state.clock.advance(seconds)
    return _clock(state)


def stats(state: EmulatorState, _: dict[str, Any]) -> dict[str, Any]:
    """Counters and usage totals."""
    return {**state.stats.to_json(), "cache_entries": len(state.engine.store), "batches": len(state.batches)}


def request_log(state: EmulatorState, payload: dict[str, Any]) -> dict[str, Any]:
    """Log records after ``after`` (default 0), at most ``limit`` (default 1000)."""
    after, limit = int(payload.get("after", 0)), int(payload.get("limit", 1000))
    return {"data": [r.to_json() for r in state.log.since(after, limit)], "last_seq": state.log.last_seq}


def script(state: EmulatorState, payload: dict[str, Any]) -> dict[str, Any]:
    """Queue scripted replies."""
    replies = TypeAdapter(list[ScriptedReply]).validate_python(payload.get("replies", []))
    state.responder.push(*replies)
    return {"pending": state.responder.pending}


def clear_script(state: EmulatorState, _: dict[str, Any]) -> dict[str, Any]:
    """Empty the script queue."""
    state.responder.clear()
    return {"pending": 0}


def faults(state: EmulatorState, payload: dict[str, Any]) -> dict[str, Any]:
    """Replace the fault rules."""
    rules = TypeAdapter(list[FaultRule]).validate_python(payload.get("faults", []))
    batch_rules = TypeAdapter(list[BatchFaultRule]).validate_python(payload.get("batch_faults", []))
    state.faults.replace(rules, batch_rules)
    return {"faults": len(rules), "batch_faults": len(batch_rules)}


def reset(state: EmulatorState, _: dict[str, Any]) -> dict[str, Any]:
    """Forget everything but the configuration and the clock."""
    state.reset()
    return {"ok": True}


def routes() -> list[BaseRoute]:
    """The control routes."""
    p = "/_emulator"
    return [
        Route(p + "/health", _control(health), methods=["GET"]),
        Route(p + "/clock", _control(clock), methods=["GET"]),
        Route(p + "/clock/advance", _control(advance), methods=["POST"]),
        Route(p + "/stats", _control(stats), methods=["GET"]),
        Route(p + "/log", _control(request_log), methods=["GET"]),
        Route(p + "/script", _control(script), methods=["POST"]),
        Route(p + "/script", _control(clear_script), methods=["DELETE"]),
        Route(p + "/faults", _control(faults), methods=["PUT"]),
        Route(p + "/reset", _control(reset), methods=["POST"]),
    ]
