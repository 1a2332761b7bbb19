"""The emulator's configuration: one validated, frozen object, loadable from a TOML or JSON file.

Every field has a default, so ``EmulatorConfig()`` is a working emulator: echo replies, no auth,
no latency, no faults, a real-time clock and batches that end three seconds after they are created.
The file format mirrors the fields (see ``docs/emulator.md``)::

    clock = "manual"
    auth_keys = ["sk-ant-test-1"]

    [batch]
    seconds = 1.5

    [responder]
    kind = "replay"
    replay_file = "recorded.jsonl"

    [[faults]]
    kind = "overloaded"
    nth = [3]
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from clawback.errors import InputFileError

__all__ = [
    "BatchConfig",
    "BatchFaultRule",
    "EmulatorConfig",
    "FaultRule",
    "LatencyConfig",
    "Limits",
    "ResponderConfig",
    "ScriptedReply",
    "load_config",
]

MB = 1024 * 1024

FaultKind = Literal[
    "rate_limit", "spend_limit", "overloaded", "api_error", "timeout", "slow", "stream_cut", "stream_error"
]
# "batches" is batch creation; "batch_poll" retrieve, list and results; "batch_cancel" cancel and delete
Endpoint = Literal["messages", "count_tokens", "batches", "batch_poll", "batch_cancel", "models", "any"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LatencyConfig(_Model):
    """Time to first token plus tokens per second; cache reads prefill faster than fresh input."""

    enabled: bool = False
    ttft_seconds: float = Field(default=0.4, ge=0)
    prefill_tokens_per_second: float = Field(default=50_000.0, gt=0)
    cache_read_speedup: float = Field(default=10.0, ge=1)
    output_tokens_per_second: float = Field(default=80.0, gt=0)


class ScriptedReply(_Model):
    """One scripted answer: text or content blocks (``tool_use`` included), optional overrides."""

    content: str | list[dict[str, Any]] = ""
    stop_reason: str | None = None
    output_tokens: int | None = Field(default=None, ge=0)
    model: str | None = None


class ResponderConfig(_Model):
    """Which responder answers, and its material."""

    kind: Literal["echo", "scripted", "template", "replay"] = "echo"
    script: tuple[ScriptedReply, ...] = ()
    templates: dict[str, str] = Field(default_factory=dict)
    replay_file: Path | None = None
    on_missing: Literal["echo", "error"] = "error"


class FaultRule(_Model):
    """Inject a fault into matching requests: the nth ones (1-based, counted per rule) or at a rate."""

    kind: FaultKind
    endpoint: Endpoint = "messages"
    nth: tuple[int, ...] = ()
    rate: float = Field(default=0.0, ge=0, le=1)
    model: str | None = None
    retry_after: float = Field(default=1.0, ge=0)
    delay_seconds: float = Field(default=1.0, ge=0)
    after_events: int = Field(default=3, ge=0)

    @field_validator("nth")
    @classmethod
    def _positive(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(n < 1 for n in value):
            raise ValueError("nth counts start at 1")
        return value


class BatchFaultRule(_Model):
    """Force batch items to end ``errored`` or ``expired``: by custom_id, or at a rate."""

    result: Literal["errored", "expired"]
    custom_ids: tuple[str, ...] = ()
    rate: float = Field(default=0.0, ge=0, le=1)
    error_type: str = "api_error"
    message: str = "Internal server error (injected by the emulator)"


class BatchConfig(_Model):
    """How long a batch takes (virtual seconds from creation to end) and how long a cancel takes."""

    seconds: float = Field(default=3.0, ge=0)
    cancel_seconds: float = Field(default=0.0, ge=0)


class Limits(_Model):
    """Documented request limits and the rate limits shown in ``anthropic-ratelimit-*`` headers."""

    messages_body_bytes: int = Field(default=32 * MB, gt=0)
    batch_body_bytes: int = Field(default=256 * MB, gt=0)
    batch_requests: int = Field(default=100_000, gt=0)
    requests_per_minute: int = Field(default=4_000, gt=0)
    input_tokens_per_minute: int = Field(default=2_000_000, gt=0)
    output_tokens_per_minute: int = Field(default=400_000, gt=0)
    enforce_rate_limits: bool = False
    log_entries: int = Field(default=500_000, ge=0)
    offload_body_bytes: int = Field(default=256 * 1024, ge=0)


class EmulatorConfig(_Model):
    """Everything the emulator can be told; defaults make a working emulator."""

    auth_keys: tuple[SecretStr, ...] | None = None
    clock: Literal["real", "manual"] = "real"
    clock_speed: float = Field(default=1.0, gt=0)
    start: datetime | None = None
    seed: int = 0
    responder: ResponderConfig = Field(default_factory=ResponderConfig)
    latency: LatencyConfig = Field(default_factory=LatencyConfig)
    faults: tuple[FaultRule, ...] = ()
    batch_faults: tuple[BatchFaultRule, ...] = ()
    batch: BatchConfig = Field(default_factory=BatchConfig)
    limits: Limits = Field(default_factory=Limits)

    def with_overrides(self, **changes: Any) -> EmulatorConfig:
        """A validated copy with top-level fields replaced (None means 'not given')."""
        data = self.model_dump()
        if self.auth_keys is not None:
            data["auth_keys"] = [k.get_secret_value() for k in self.auth_keys]
        data.update({k: v for k, v in changes.items() if v is not None})
        return EmulatorConfig.model_validate(data)


def load_config(path: str | Path) -> EmulatorConfig:
    """An :class:`EmulatorConfig` from a TOML or JSON file; a bad file is a one-line error."""
    from clawback.safe_input import read_document

    path = Path(path)
    data = read_document(path, f"emulator config {path}")
    if not isinstance(data, dict):
        raise InputFileError(f"emulator config {path}: expected a table of settings")
    responder = data.get("responder")
    if isinstance(responder, dict) and responder.get("replay_file"):
        responder["replay_file"] = str(path.parent / Path(responder["replay_file"]).expanduser())
    try:
        return EmulatorConfig.model_validate(data)
    except ValidationError as exc:
        raise InputFileError(f"emulator config {path}: {describe_validation_error(exc)}") from exc


def describe_validation_error(exc: ValidationError) -> str:
    """The first problem of a pydantic error, as 'field.path: message'."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    return f"{where}: {first['msg']}"
