"""What the sync and async clients share: settings, catalogue, ledger writer, pipeline, keep-alive.

:class:`ClientRuntime` is built once per client and shared by the clients ``with_options`` and
``copy`` derive from it. It owns the ledger writer (a ledger that fails never fails a call: the
writer keeps records pending and retries) and, in the default ``ledger_mode="async"``, the
:class:`~clawback.client.recorder.Recorder` that builds and writes records off the calling thread.
It turns SDK results into records, decides fallbacks and re-sends a call that a learned output cap
cut short.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import anthropic

from clawback.client.keepalive import KeepAlive, Pinger
from clawback.client.options import ClientOptions
from clawback.client.pipeline import CallPipeline, Outcome, Prepared
from clawback.client.recorder import Recordable, Recorder, flush_all
from clawback.client.routing_source import RoutingSource
from clawback.errors import ClawbackError
from clawback.ledger.api import open_ledger, open_writer
from clawback.ledger.options import WriterOptions
from clawback.ledger.record import CallRecord, api_key_id
from clawback.ledger.writer import LedgerWriter
from clawback.pricing.loader import load_catalogue
from clawback.redact import redact_exception
from clawback.routing.cascade import response_text
from clawback.routing.features import request_text
from clawback.settings import Settings

__all__ = ["ClientRuntime", "is_fallback_error", "outcome_of"]

log = logging.getLogger("clawback.client")


def is_fallback_error(exc: BaseException) -> bool:
    """529 overloaded or another 5xx, still failing after the SDK's own retries."""
    return isinstance(exc, anthropic.APIStatusError) and (exc.status_code == 529 or exc.status_code >= 500)


def outcome_of(message: Any) -> Outcome:
    """An :class:`Outcome` from an SDK ``Message`` (or ``ParsedMessage``); its usage is read later."""
    return Outcome(
        usage=getattr(message, "usage", None),
        served_model=getattr(message, "model", None),
        stop_reason=getattr(message, "stop_reason", None),
        request_id=getattr(message, "_request_id", None),
    )


class ClientRuntime:
    """Per-client state and the steps around each call that do not depend on sync or async."""

    def __init__(
        self,
        pipeline: CallPipeline,
        writer: LedgerWriter | None,
        options: ClientOptions,
        keepalive: KeepAlive | None = None,
        routing: RoutingSource | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.routing = routing
        self.writer = writer
        self.options = options
        self.keepalive = keepalive
        self.recorder = Recorder(writer) if writer is not None and options.ledger_mode == "async" else None
        self.spec: dict[str, Any] = {}
        """The arguments the runtime was built from (a derived client with new ones rebuilds it)."""
        self._users = 1
        self.batch_tasks: dict[str, str] = {}
        """The ``task=`` given to ``batches.create``, by batch id (labels the results read later)."""

    @classmethod
    def build(
        cls,
        *,
        api_key: str | None,
        ledger: str | Path | bool | None,
        options: ClientOptions | None,
        fallbacks: list[str] | tuple[str, ...] | None,
        routing: str | Path | None,
        settings: Settings | None,
        pinger: Pinger | None,
    ) -> ClientRuntime:
        """The runtime for a new client (reads the catalogue, opens the ledger, seeds the history)."""
        settings = settings or Settings.from_env()
        opts = options or ClientOptions()
        if fallbacks is not None:
            opts = replace(opts, fallbacks=tuple(fallbacks))
        if routing is not None:
            opts = replace(opts, routing=routing)
        catalogue = load_catalogue([*settings.price_files, *opts.prices])
        source = _routing(opts, settings)
        pipeline = CallPipeline(
            catalogue,
            opts,
            workspace=api_key_id(api_key) or "default",
            routing=source.config,
            clock=opts.clock or time.time,
        )
        writer = None
        if ledger is not False:
            location = None if ledger is None or ledger is True else ledger
            # the writer commits when asked; in async mode the recorder asks from its own thread
            writer = open_writer(location, settings=settings, options=WriterOptions(mode="sync"))
            _seed(pipeline, location, settings, opts.seed_from_ledger)
        keepalive = None
        if opts.keep_alive_cap_usd is not None and pinger is not None:
            keepalive = KeepAlive(pipeline, pinger, cap=opts.keep_alive_cap_usd, record=None)
        runtime = cls(pipeline, writer, opts, keepalive, source)
        runtime.spec = {"api_key": api_key, "ledger": ledger, "options": opts, "settings": settings}
        if keepalive is not None:
            keepalive.record = runtime.write
        return runtime

    # -- recording ---------------------------------------------------------------------------

    def write(self, record: CallRecord) -> None:
        """Hand a finished record to the ledger (never raises)."""
        if self.recorder is not None:
            self.recorder.submit(record)
        elif self.writer is not None:
            self.writer.record(record)

    def write_later(self, item: Recordable) -> None:
        """Record something that builds its record when asked (off the calling thread in async mode)."""
        if self.recorder is not None:
            self.recorder.submit(item)
        elif self.writer is not None:
            self.writer.record(item.record())

    def record(self, prepared: Prepared, outcome: Outcome, *, fallback_from: str | None = None) -> None:
        """Learn from one attempt and record it (off the calling thread in async mode); never raises."""
        self.write_later(self.pipeline.settle(prepared, outcome, fallback_from=fallback_from))
        if self.keepalive is not None and outcome.error is None and outcome.usage is not None:
            self.keepalive.note(prepared)

    def record_message(self, prepared: Prepared, message: Any, *, fallback_from: str | None = None) -> None:
        """Record a successful non-streaming call and let keep-alive see it."""
        self.record(prepared, outcome_of(message), fallback_from=fallback_from)

    def record_failure(
        self, prepared: Prepared, exc: BaseException, *, fallback_from: str | None = None
    ) -> None:
        """Record a call that raised before any usage came back."""
        self.record(prepared, Outcome(error=exc), fallback_from=fallback_from)

    def stream_recorder(
        self, prepared: Prepared, fallback_from: str | None = None
    ) -> Callable[[Outcome], None]:
        """The callback a recording stream calls once when it ends."""

        def on_end(outcome: Outcome) -> None:
            self.record(prepared, outcome, fallback_from=fallback_from)

        return on_end

    # -- decisions ---------------------------------------------------------------------------

    def prepare(self, body: Mapping[str, Any], task: str | None, *, caps: bool = True) -> Prepared:
        """The call to send for ``body``, under the routing config in force (reloaded when it changed).

        ``caps`` is False for calls a cut could not be re-sent for (streams, raw responses).
        """
        if self.routing is not None:
            self.pipeline.routing = self.routing.current()
        return self.pipeline.prepare(body, task, caps=caps)

    def fallbacks_for(self, prepared: Prepared) -> list[str]:
        """Fallback models to try after ``prepared`` fails, in order (never the failing one)."""
        return [m for m in self.options.fallbacks if m != prepared.model]

    def fallback(self, prepared: Prepared, model: str) -> Prepared:
        """``prepared`` re-planned for a fallback model (same caller, task and routing decision)."""
        return self.pipeline.fallback(prepared, model)

    def after_failure(
        self,
        prepared: Prepared,
        attempt: Prepared,
        exc: BaseException,
        failed: str | None,
        fallbacks: Iterator[str],
    ) -> Prepared | None:
        """Record the failed ``attempt``; the next one (a fallback model after a 529/5xx), or None
        when the caller is to get ``exc`` — masked first, for an upstream that echoed the key."""
        self.record_failure(attempt, exc, fallback_from=failed)
        model = next(fallbacks, None) if is_fallback_error(exc) else None
        if model is None:
            redact_exception(exc)
            return None
        return self.fallback(prepared, model)

    def capped_short(self, prepared: Prepared, message: Any) -> Prepared | None:
        """When a learned cap cut the answer off, the call to send again with the caller's limit."""
        if not self.options.retry_truncated:
            return None
        if not CallPipeline.cut_by_cap(prepared, getattr(message, "stop_reason", None)):
            return None
        return CallPipeline.uncapped(prepared)

    def cascade_samples(self, prepared: Prepared) -> int:
        """How many cheap answers a cascade asks for (more than one for an agreement check)."""
        config = self.pipeline.routing
        task = prepared.task
        if config is None or task is None or task not in config.tasks:
            return 1
        return config.tasks[task].samples

    def cascade_accepts(self, prepared: Prepared, responses: list[Any]) -> bool:
        """Whether the task's validator accepts the cheap model's answers (no validator: accept)."""
        config = self.pipeline.routing
        validator = config.validator_for(prepared.task) if config is not None else None
        if validator is None:
            return True
        verdict = validator.check([response_text(r) for r in responses], request_text(prepared.source))
        return bool(verdict.ok)

    @staticmethod
    def _original(prepared: Prepared) -> Mapping[str, Any]:
        return prepared.source or prepared.body

    def derive(
        self, *, api_key: str | None, pinger: Pinger | None, changes: Mapping[str, Any]
    ) -> ClientRuntime:
        """The runtime of a client made by ``copy``/``with_options``: this one, shared, unless ``changes``
        (``ledger``, ``options``, ``fallbacks``, ``routing``) or another API key ask for a new one."""
        if not changes and api_key_id(api_key) == api_key_id(self.spec.get("api_key")):
            self._users += 1
            return self
        spec = {**self.spec, **{k: v for k, v in changes.items() if k in ("ledger", "options")}}
        return ClientRuntime.build(
            api_key=api_key,
            ledger=spec.get("ledger"),
            options=spec.get("options"),
            fallbacks=changes.get("fallbacks"),
            routing=changes.get("routing"),
            settings=spec.get("settings"),
            pinger=pinger,
        )

    def release(self) -> None:
        """A client using this runtime is closed: the last one closes it, the others only flush it."""
        self._users -= 1
        if self._users <= 0:
            self.close()
        else:
            self.flush()

    def flush(self, timeout: float = 5.0) -> bool:
        """Write every record still queued; True when none is left."""
        if self.recorder is not None:
            return self.recorder.flush(timeout)
        return True if self.writer is None else self.writer.flush(timeout)

    def close(self) -> None:
        """Stop keep-alive, write every queued record and close the ledger."""
        if self.keepalive is not None:
            self.keepalive.stop()
        if self.recorder is not None:
            self.recorder.close()
        elif self.writer is not None:
            self.writer.close()


def _routing(opts: ClientOptions, settings: Settings) -> RoutingSource:
    """The routing config: the one given, else the default file when it exists (verdicts land there)."""
    explicit = opts.routing is not None
    path = Path(opts.routing) if opts.routing is not None else settings.routing_location
    return RoutingSource(path, explicit=explicit, check_every=opts.routing_reload_seconds)


def _seed(pipeline: CallPipeline, location: str | Path | None, settings: Settings, limit: int) -> None:
    """Learn from the ledger's most recent rows; a ledger that can't be read is only logged."""
    if limit <= 0:
        return
    flush_all()  # the rows other clients of this process have queued
    try:
        with open_ledger(location, settings=settings, create=False) as ledger:
            rows = ledger.tail(limit)
    except (ClawbackError, OSError) as exc:
        log.debug("no ledger history to learn from: %s", exc)
        return
    pipeline.seed(sorted(rows, key=lambda r: r.ts))
