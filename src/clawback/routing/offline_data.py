"""Reading the public per-prompt outcomes the offline evaluation runs on (RouteLLM, RouterArena).

* RouteLLM (github.com/lm-sys/RouteLLM, ``routellm/evals``): MMLU (57 subject CSVs) and GSM8K,
  each prompt answered right or wrong by Mixtral-8x7B-Instruct (cheap) and gpt-4-1106-preview
  (strong); GSM8K also keeps both answers' text. Prompts listed in ``contaminated_prompts.jsonl``
  are dropped, exactly as RouteLLM's own ``benchmarks.py`` does.
* RouterArena (github.com/RouteWorks/RouterArena, ``cached_results``): 809 prompts answered by
  Claude 3 Haiku and Gemini 2.0 Flash with the provider's real token counts and a score in [0, 1].

Files are read from the folder given (``../shared/data`` in this repository); nothing is copied.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from clawback.errors import InputFileError
from clawback.pricing.catalogue import Catalogue
from clawback.pricing.cost import Usage, price_usage

__all__ = [
    "ROUTELLM_CHEAP",
    "ROUTELLM_STRONG",
    "ROUTERARENA_MODELS",
    "ArenaAnswer",
    "Benchmark",
    "Outcome",
    "Pricer",
    "arena_pricer",
    "load_routellm",
    "load_routerarena",
    "read_routerarena",
    "routerarena_rates",
]

ROUTELLM_CHEAP = "mistralai/Mixtral-8x7B-Instruct-v0.1"
ROUTELLM_STRONG = "gpt-4-1106-preview"
ROUTERARENA_MODELS = ("claude-3-haiku-20240307", "gemini-2.0-flash-001")
Pricer = Callable[[str, int, int], Decimal]


@dataclass(frozen=True, slots=True)
class Outcome:
    """One prompt and how each model did on it (quality in [0, 1]; cost in USD when known)."""

    id: str
    prompt: str
    cheap: float
    strong: float
    cheap_answer: str | None = None
    strong_answer: str | None = None
    cheap_cost: Decimal | None = None
    strong_cost: Decimal | None = None
    group: str = ""


@dataclass(frozen=True, slots=True)
class Benchmark:
    """Per-prompt outcomes of a cheap and a strong model on one benchmark."""

    name: str
    cheap_model: str
    strong_model: str
    outcomes: tuple[Outcome, ...]
    source: str
    dropped: int = 0
    notes: tuple[str, ...] = field(default=())


def _open_csv(path: Path) -> Iterator[dict[str, str]]:
    csv.field_size_limit(sys.maxsize)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            yield from csv.DictReader(handle)
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return [json.loads(line) for line in lines if line.strip()]
    except ValueError as exc:
        raise InputFileError(f"{path} is not valid JSON lines: {exc}") from exc


def _contaminated(path: Path) -> set[str]:
    return {str(row["eval_prompt"]) for row in _jsonl(path)} if path.exists() else set()


def _flag(value: str, where: str) -> float:
    if value not in ("True", "False"):
        raise InputFileError(f"{where}: expected True or False, got {value!r}")
    return 1.0 if value == "True" else 0.0


def load_routellm(data_dir: str | Path, benchmark: str) -> Benchmark:
    """RouteLLM's MMLU or GSM8K outcomes from ``data_dir/routellm-evals`` (decontaminated)."""
    root = Path(data_dir) / "routellm-evals"
    if benchmark == "mmlu":
        folder = root / "mmlu_responses"
        files = sorted(folder.glob("mmlu_*.csv"))
    elif benchmark == "gsm8k":
        folder = root / "gsm8k"
        files = [folder / "gsm8k_responses.csv"]
    else:
        raise InputFileError(f"unknown RouteLLM benchmark {benchmark!r}; expected mmlu or gsm8k")
    if not files or not files[0].exists():
        raise InputFileError(f"no RouteLLM {benchmark} outcomes under {folder}")
    skip = _contaminated(folder / "contaminated_prompts.jsonl")
    outcomes: list[Outcome] = []
    dropped = 0
    for path in files:
        group = path.stem.removeprefix("mmlu_") if benchmark == "mmlu" else "gsm8k"
        for i, row in enumerate(_open_csv(path)):
            prompt = row["prompt"]
            if prompt in skip:
                dropped += 1
                continue
            where = f"{path.name} row {i + 2}"
            outcomes.append(
                Outcome(
                    id=f"{benchmark}/{group}/{i}",
                    prompt=prompt,
                    cheap=_flag(row[ROUTELLM_CHEAP], where),
                    strong=_flag(row[ROUTELLM_STRONG], where),
                    cheap_answer=row.get(f"{ROUTELLM_CHEAP}_response"),
                    strong_answer=row.get(f"{ROUTELLM_STRONG}_response"),
                    group=group,
                )
            )
    return Benchmark(
        name=benchmark,
        cheap_model=ROUTELLM_CHEAP,
        strong_model=ROUTELLM_STRONG,
        outcomes=tuple(outcomes),
        source=f"{root} (github.com/lm-sys/RouteLLM routellm/evals)",
        dropped=dropped,
    )


@dataclass(frozen=True, slots=True)
class ArenaAnswer:
    """One model's recorded answer to a RouterArena prompt."""

    id: str
    question: str
    answer: str
    input_tokens: int
    output_tokens: int
    score: float
    metric: str


def read_routerarena(data_dir: str | Path, model: str) -> dict[str, ArenaAnswer]:
    """One model's RouterArena answers keyed by prompt id."""
    path = Path(data_dir) / "routerarena-cached" / f"{model}.jsonl"
    out: dict[str, ArenaAnswer] = {}
    for row in _jsonl(path):
        try:
            usage, result = row["token_usage"], row["evaluation_result"]
            out[str(row["global_index"])] = ArenaAnswer(
                id=str(row["global_index"]),
                question=str(row["question"]),
                answer=str(row.get("generated_answer") or ""),
                input_tokens=int(usage["input_tokens"]),
                output_tokens=int(usage["output_tokens"]),
                score=float(result["score"]),
                metric=str(result.get("metric", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputFileError(f"{path}: malformed row {row.get('global_index')!r}: {exc}") from exc
    return out


def routerarena_rates(data_dir: str | Path) -> dict[str, tuple[Decimal, Decimal]]:
    """RouterArena's published USD per million input/output tokens, by model (``cost.json``)."""
    path = Path(data_dir) / "routerarena-cached" / "cost.json"
    try:
        raw = json.loads(path.read_text("utf-8"))
        return {
            name: (
                Decimal(str(v["input_token_price_per_million"])),
                Decimal(str(v["output_token_price_per_million"])),
            )
            for name, v in raw.items()
        }
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputFileError(f"cannot read RouterArena prices {path}: {exc}") from exc


def arena_pricer(data_dir: str | Path, catalogue: Catalogue | None = None) -> Pricer:
    """Prices a RouterArena answer: clawback's cost engine for models its catalogue knows (Claude),
    RouterArena's published ``cost.json`` rates for the others (Gemini)."""
    rates = routerarena_rates(data_dir)
    million = Decimal(1_000_000)

    def price(model: str, input_tokens: int, output_tokens: int) -> Decimal:
        info = catalogue.get(model) if catalogue is not None else None
        if info is not None:
            return price_usage(Usage(input_tokens=input_tokens, output_tokens=output_tokens), info).total
        if model not in rates:
            raise InputFileError(f"no price for {model} in clawback's catalogue or RouterArena's cost.json")
        rate_in, rate_out = rates[model]
        return (input_tokens * rate_in + output_tokens * rate_out) / million

    return price


def load_routerarena(
    data_dir: str | Path,
    *,
    cheap: str = "gemini-2.0-flash-001",
    strong: str = "claude-3-haiku-20240307",
    catalogue: Catalogue | None = None,
) -> Benchmark:
    """RouterArena outcomes with real token counts, priced by :func:`arena_pricer`.

    The default pair puts Gemini 2.0 Flash as ``cheap`` because it is the cheaper of the two per
    call; it is also the better one on this data, which the report states.
    """
    answers = {m: read_routerarena(data_dir, m) for m in (cheap, strong)}
    price = arena_pricer(data_dir, catalogue)
    outcomes = []
    for pid in sorted(answers[cheap]):
        if pid not in answers[strong]:
            continue
        a, b = answers[cheap][pid], answers[strong][pid]
        outcomes.append(
            Outcome(
                id=pid,
                prompt=a.question,
                cheap=a.score,
                strong=b.score,
                cheap_answer=a.answer,
                strong_answer=b.answer,
                cheap_cost=price(cheap, a.input_tokens, a.output_tokens),
                strong_cost=price(strong, b.input_tokens, b.output_tokens),
                group=pid.rsplit("_", 1)[0],
            )
        )
    return Benchmark(
        name="routerarena",
        cheap_model=cheap,
        strong_model=strong,
        outcomes=tuple(outcomes),
        source=f"{Path(data_dir) / 'routerarena-cached'} (github.com/RouteWorks/RouterArena cached_results)",
    )
