"""Measure the offline token estimator against real Claude token counts.

Data: RouterArena's 809 prompts answered by Claude 3 Haiku (previous-generation tokenizer), with
the provider's own input and output token counts (../shared/data/routerarena-cached). The prompt
count includes a few tokens of message framing, which the estimator adds the same way
``request_shape`` does (5 per request, 3 per message).

Run: .venv/bin/python benchmarks/token_estimator.py [--markdown]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from clawback.tokens import MESSAGE_FRAMING_TOKENS, REQUEST_FRAMING_TOKENS, estimate_text_tokens

DATA = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "routerarena-cached"
    / "claude-3-haiku-20240307.jsonl"
)


def _errors(pairs: list[tuple[int, int]]) -> dict[str, float]:
    rel = [(est - real) / real for est, real in pairs]
    absolute = sorted(abs(r) for r in rel)
    return {
        "n": len(pairs),
        "median_abs_pct": 100 * statistics.median(absolute),
        "p90_abs_pct": 100 * absolute[int(0.9 * (len(absolute) - 1))],
        "bias_pct": 100 * statistics.median(rel),
        "chars_per_token": statistics.median(len_chars / real for len_chars, real in pairs),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    if not args.data.exists():
        print(f"data file {args.data} is absent", file=sys.stderr)
        return 2
    prompts: list[tuple[int, int]] = []
    answers: list[tuple[int, int]] = []
    naive: list[tuple[int, int]] = []
    chars: list[tuple[int, int]] = []
    for line in args.data.read_text().splitlines():
        row = json.loads(line)
        usage = row["token_usage"]
        if usage["input_tokens"]:
            est = estimate_text_tokens(row["question"]) + REQUEST_FRAMING_TOKENS + MESSAGE_FRAMING_TOKENS
            prompts.append((est, usage["input_tokens"]))
            naive.append((round(len(row["question"]) / 4) + 8, usage["input_tokens"]))
            chars.append((len(row["question"]), usage["input_tokens"]))
        if usage["output_tokens"] and usage["output_tokens"] < 4096:
            answers.append((estimate_text_tokens(row["generated_answer"]), usage["output_tokens"]))
    results = {
        "prompts (clawback estimator)": _errors(prompts),
        "answers (clawback estimator)": _errors(answers),
        "prompts (chars / 4 rule)": _errors(naive),
    }
    if args.markdown:
        print("| text | n | median abs error | p90 abs error | median bias |")
        print("|---|---:|---:|---:|---:|")
        for name, r in results.items():
            print(
                f"| {name} | {r['n']} | {r['median_abs_pct']:.1f}% | {r['p90_abs_pct']:.1f}% | {r['bias_pct']:+.1f}% |"
            )
        print(f"\nMedian characters per token on these prompts: {_errors(chars)['chars_per_token']:.2f}")
    else:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
