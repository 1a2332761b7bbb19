"""The price catalogue: models, their dated rates, and model-id resolution (pure; no file access).

A catalogue is built from plain mappings (parsed TOML or JSON) by :func:`build_catalogue`, which
validates every field and names the model and field when one is missing or malformed. Later
mappings override earlier ones model by model, so a user's file can change a rate, add a rate
period or add a model without repeating the bundled data. :mod:`clawback.pricing.loader` reads the
files.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from clawback.errors import CatalogueError, UnknownModelError

__all__ = [
    "Catalogue",
    "FastModeRates",
    "ModelInfo",
    "PromptTier",
    "Rates",
    "build_catalogue",
    "normalize_model_id",
]

Tokenizer = Literal["pre-4.7", "4.7+"]
Status = Literal["active", "limited", "legacy", "deprecated", "retired"]
_STATUSES: tuple[str, ...] = ("active", "limited", "legacy", "deprecated", "retired")
_RATE_FIELDS = (
    "input",
    "output",
    "cache_write_5m",
    "cache_write_1h",
    "cache_read",
    "batch_input",
    "batch_output",
)


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per million tokens for one model in one period (or one prompt tier)."""

    effective_from: date
    input: Decimal
    output: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal
    batch_input: Decimal
    batch_output: Decimal


@dataclass(frozen=True, slots=True)
class PromptTier:
    """Whole-request rates that apply when a prompt passes a length (Haiku 5.5 over 100,000 tokens).

    The tier is in force from ``rates.effective_from`` up to, not including, ``ends`` (None: still in
    force). Sonnet 4 and 4.5 had one while their 1M-context beta lasted (until 2026-04-30).
    """

    threshold_prompt_tokens: int
    rates: Rates
    ends: date | None = None

    def in_force(self, when: date | None) -> bool:
        """Whether the tier applies on ``when`` (None: today's rates, i.e. not ended)."""
        if when is None:
            return self.ends is None
        return self.rates.effective_from <= when and (self.ends is None or when < self.ends)


@dataclass(frozen=True, slots=True)
class FastModeRates:
    """Fast-mode input and output rates; cache rates follow the model's multipliers on ``input``."""

    input: Decimal
    output: Decimal


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One Claude model: ids, limits, lifecycle and its dated rates."""

    id: str
    display_name: str
    aliases: tuple[str, ...]
    family: str
    version: str
    tokenizer: Tokenizer
    min_cacheable_tokens: int
    context_window: int
    max_output: int
    inference_geo_us: bool
    status: Status
    rates: tuple[Rates, ...]
    source: str
    released: date | None = None
    deprecated: date | None = None
    retired: date | None = None
    retires: date | None = None
    status_note: str = ""
    notes: str = ""
    assumed: tuple[str, ...] = ()
    prompt_tier: PromptTier | None = None
    fast_mode: FastModeRates | None = None

    def rates_at(self, when: date | None = None) -> Rates:
        """The rates in force on ``when`` (the latest period if ``when`` is None).

        The first period also covers dates before it, so a call logged a day before a model's
        release (clock skew, time zones) is still priced rather than dropped.
        """
        if when is None:
            return self.rates[-1]
        chosen = self.rates[0]
        for period in self.rates:
            if period.effective_from <= when:
                chosen = period
        return chosen

    def prompt_tier_at(self, when: date | None = None) -> PromptTier | None:
        """The long-prompt tier in force on ``when`` (the current one if None), if any."""
        tier = self.prompt_tier
        return tier if tier is not None and tier.in_force(when) else None

    @property
    def retirement(self) -> date | None:
        """The day the Claude API stops (or stopped) serving the model: ``retired`` or ``retires``."""
        return self.retired or self.retires

    def unavailable_on(self, when: date) -> bool:
        """True when the Claude API no longer serves this model on ``when``."""
        return self.retirement is not None and when >= self.retirement

    def status_on(self, when: date) -> Status:
        """The lifecycle status on ``when``, judged by the model's dates.

        Retired once its retirement date (``retired`` or ``retires``) has come, deprecated from its
        deprecation date, and ``legacy`` (still served) before that for a model the catalogue lists
        as deprecated or retired; otherwise the catalogue's status.
        """
        if self.unavailable_on(when):
            return "retired"
        if self.deprecated is not None and when >= self.deprecated:
            return "deprecated"
        if self.status in ("deprecated", "retired"):
            return "legacy"
        return self.status


def normalize_model_id(model: str) -> str:
    """Reduce a model string from any log to the form the catalogue keys on.

    Lower-cases, drops Claude Code's ``[1m]`` selector, Bedrock's ``[region.]anthropic.`` prefix and
    ``-v1:0`` suffix, and turns Google Cloud's ``@20250805`` into ``-20250805``.
    """
    text = model.strip().lower()
    text = re.sub(r"\[[^\]]*\]$", "", text)
    if "anthropic." in text:
        text = text.split("anthropic.", 1)[1]
    text = re.sub(r"-v\d+(:\d+)?$", "", text)
    return text.replace("@", "-")


class Catalogue:
    """An immutable set of models with lookup by id, alias or normalized id."""

    def __init__(self, models: Iterable[ModelInfo], *, sources: Sequence[str] = ()) -> None:
        self._models: tuple[ModelInfo, ...] = tuple(models)
        self.sources: tuple[str, ...] = tuple(sources)
        index: dict[str, ModelInfo] = {}
        for info in self._models:
            for key in (info.id, *info.aliases):
                index[key] = info
                index.setdefault(normalize_model_id(key), info)
        self._index = index

    @property
    def models(self) -> tuple[ModelInfo, ...]:
        """Every model, in catalogue order (newest first in the bundled file)."""
        return self._models

    def get(self, model: str) -> ModelInfo | None:
        """The model for an id or alias, or None."""
        found = self._index.get(model)
        if found is None:
            found = self._index.get(normalize_model_id(model))
        return found

    def resolve(self, model: str) -> ModelInfo:
        """The model for an id or alias; raises :class:`UnknownModelError` naming the closest ids."""
        found = self.get(model)
        if found is None:
            raise UnknownModelError(model, self.closest(model))
        return found

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self.get(model) is not None

    def closest(self, model: str, limit: int = 3) -> tuple[str, ...]:
        """Known model ids most like ``model``: same family and version first, then spelling."""
        wanted = normalize_model_id(model)
        family, version = _signature(wanted)
        best: dict[str, float] = {}
        for info in self._models:
            for name in (info.id, *info.aliases):
                score = difflib.SequenceMatcher(None, wanted, name).ratio()
                if family and (info.family == family):
                    score += 0.5
                    if version and _signature(name)[1] == version:
                        score += 1.0
                best[info.id] = max(best.get(info.id, 0.0), score)
        ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
        return tuple(key for key, score in ranked[:limit] if score >= 0.6)


def _signature(model: str) -> tuple[str, tuple[int, ...]]:
    """A model string's family word and version numbers (dates and suffixes ignored)."""
    parts = [p for p in re.split(r"[-_.\s]+", model) if p and p != "claude"]
    family = next((p for p in parts if p in ("haiku", "sonnet", "opus", "fable", "mythos")), "")
    version = tuple(int(p) for p in parts if p.isdigit() and len(p) < 4)
    return family, version


# ---------------------------------------------------------------------------------------------
# Building from plain data


def build_catalogue(documents: Sequence[tuple[str, Mapping[str, Any]]]) -> Catalogue:
    """Merge catalogue documents, in order, into a :class:`Catalogue`.

    ``documents`` pairs a label (a file name, for error messages) with its parsed contents. The
    first document is normally the bundled catalogue; each later one may change fields of known
    models (matched by ``id``), add or replace rate periods (matched by ``effective_from``), or
    add new models, which must then give every required field.
    """
    merged: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for label, doc in documents:
        version = doc.get("format_version", 1)
        if version != 1:
            raise CatalogueError(f"{label}: unsupported format_version {version!r} (expected 1)")
        entries = doc.get("models")
        if not isinstance(entries, list):
            raise CatalogueError(f"{label}: expected a list under 'models'")
        for position, entry in enumerate(entries, start=1):
            if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str):
                raise CatalogueError(f"{label}: model #{position} has no 'id'")
            model_id = entry["id"]
            if model_id in merged:
                merged[model_id] = _merge_entry(merged[model_id], entry)
            else:
                merged[model_id] = {**entry, "_label": label}
                order.append(model_id)
    models = [_parse_model(merged[model_id]) for model_id in order]
    return Catalogue(models, sources=[label for label, _ in documents])


def _merge_entry(base: dict[str, Any], change: Mapping[str, Any]) -> dict[str, Any]:
    out = {**base, **{k: v for k, v in change.items() if k != "rates"}}
    if "rates" in change:
        periods = {str(p.get("effective_from")): p for p in base.get("rates", [])}
        for period in change["rates"]:
            key = str(period.get("effective_from"))
            periods[key] = {**periods.get(key, {}), **period}
        out["rates"] = list(periods.values())
    return out


def _parse_model(raw: Mapping[str, Any]) -> ModelInfo:
    where = f"{raw.get('_label', 'catalogue')}: model {raw['id']!r}"
    field = _FieldReader(raw, where)
    rates_raw = raw.get("rates")
    if not isinstance(rates_raw, list) or not rates_raw:
        raise CatalogueError(f"{where}: missing field 'rates' (at least one rate period)")
    rates = tuple(
        sorted(
            (_parse_rates(p, f"{where} rates #{i}") for i, p in enumerate(rates_raw, 1)),
            key=lambda r: r.effective_from,
        )
    )
    tier = None
    if raw.get("prompt_tier") is not None:
        tier_raw = raw["prompt_tier"]
        if not isinstance(tier_raw, Mapping):
            raise CatalogueError(f"{where}: field 'prompt_tier' must be a table")
        tier_reader = _FieldReader(tier_raw, f"{where} prompt_tier")
        tier = PromptTier(
            threshold_prompt_tokens=tier_reader.integer("threshold_prompt_tokens"),
            rates=_parse_rates(
                {"effective_from": str(rates[0].effective_from), **tier_raw}, f"{where} prompt_tier"
            ),
            ends=tier_reader.optional_day("ends"),
        )
    fast = None
    if raw.get("fast_mode") is not None:
        if not isinstance(raw["fast_mode"], Mapping):
            raise CatalogueError(f"{where}: field 'fast_mode' must be a table")
        fast_reader = _FieldReader(raw["fast_mode"], f"{where} fast_mode")
        fast = FastModeRates(input=fast_reader.money("input"), output=fast_reader.money("output"))
    tokenizer = field.text("tokenizer")
    if tokenizer not in ("pre-4.7", "4.7+"):
        raise CatalogueError(f"{where}: field 'tokenizer' must be 'pre-4.7' or '4.7+', got {tokenizer!r}")
    status = field.text("status")
    if status not in _STATUSES:
        raise CatalogueError(f"{where}: field 'status' must be one of {', '.join(_STATUSES)}, got {status!r}")
    return ModelInfo(
        id=field.text("id"),
        display_name=field.text("display_name"),
        aliases=tuple(field.strings("aliases")),
        family=field.text("family"),
        version=field.text("version"),
        tokenizer=tokenizer,  # type: ignore[arg-type]
        min_cacheable_tokens=field.integer("min_cacheable_tokens"),
        context_window=field.integer("context_window"),
        max_output=field.integer("max_output"),
        inference_geo_us=field.boolean("inference_geo_us"),
        status=status,  # type: ignore[arg-type]
        rates=rates,
        source=field.text("source"),
        released=field.optional_day("released"),
        deprecated=field.optional_day("deprecated"),
        retired=field.optional_day("retired"),
        retires=field.optional_day("retires"),
        status_note=str(raw.get("status_note", "")),
        notes=str(raw.get("notes", "")),
        assumed=tuple(field.strings("assumed", required=False)),
        prompt_tier=tier,
        fast_mode=fast,
    )


def _parse_rates(raw: Any, where: str) -> Rates:
    if not isinstance(raw, Mapping):
        raise CatalogueError(f"{where}: expected a table of rates")
    reader = _FieldReader(raw, where)
    values = {name: reader.money(name) for name in _RATE_FIELDS}
    return Rates(effective_from=reader.day("effective_from"), **values)


class _FieldReader:
    """Reads typed fields from one mapping, raising CatalogueError that names the field."""

    def __init__(self, raw: Mapping[str, Any], where: str) -> None:
        self.raw = raw
        self.where = where

    def _get(self, name: str) -> Any:
        if name not in self.raw or self.raw[name] is None:
            raise CatalogueError(f"{self.where}: missing field {name!r}")
        return self.raw[name]

    def text(self, name: str) -> str:
        value = self._get(name)
        if not isinstance(value, str) or not value:
            raise CatalogueError(f"{self.where}: field {name!r} must be a non-empty string")
        return value

    def strings(self, name: str, *, required: bool = True) -> list[str]:
        if not required and name not in self.raw:
            return []
        value = self._get(name)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise CatalogueError(f"{self.where}: field {name!r} must be a list of strings")
        return value

    def integer(self, name: str) -> int:
        value = self._get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CatalogueError(
                f"{self.where}: field {name!r} must be a non-negative integer, got {value!r}"
            )
        return value

    def boolean(self, name: str) -> bool:
        value = self._get(name)
        if not isinstance(value, bool):
            raise CatalogueError(f"{self.where}: field {name!r} must be true or false")
        return value

    def money(self, name: str) -> Decimal:
        value = self._get(name)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise CatalogueError(f"{self.where}: field {name!r} must be a decimal string, got {value!r}")
        try:
            amount = Decimal(str(value))
        except InvalidOperation as exc:
            raise CatalogueError(f"{self.where}: field {name!r} is not a number: {value!r}") from exc
        if not amount.is_finite() or amount < 0:
            raise CatalogueError(f"{self.where}: field {name!r} must be a non-negative number, got {value!r}")
        return amount

    def day(self, name: str) -> date:
        value = self._get(name)
        return self._to_date(name, value)

    def optional_day(self, name: str) -> date | None:
        value = self.raw.get(name)
        return None if value is None else self._to_date(name, value)

    def _to_date(self, name: str, value: Any) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError as exc:
            raise CatalogueError(
                f"{self.where}: field {name!r} must be a date YYYY-MM-DD, got {value!r}"
            ) from exc
