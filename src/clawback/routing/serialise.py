"""JSON forms of evaluation results, for ``--json`` output and benchmarks (pure).

Money is a decimal string; shares and qualities are plain numbers rounded to six places.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from clawback.routing.curves import CurvePoint
from clawback.routing.evaluate import EvalReport, ModelResult
from clawback.routing.offline import DECILES, OfflineResult, PolicyResult
from clawback.routing.verdict import Option

__all__ = ["eval_json", "offline_json"]


def _num(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _usd(value: Decimal | None) -> str | None:
    return None if value is None else format(value.quantize(Decimal("0.000001")), "f")


def _point(p: CurvePoint | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"strong_share": _num(p.strong_share), "quality": _num(p.quality), "cost": _num(p.cost)}


def _policy(r: OfflineResult, p: PolicyResult) -> dict[str, Any]:
    out: dict[str, Any] = {"name": p.name, "note": p.note}
    if not p.points:
        return out
    out.update(
        {
            "cpt50": _num(p.cpt50),
            "cpt80": _num(p.cpt80),
            "apgr": _num(p.apgr),
            "at_target": _point(p.at_target),
            "saving_at_target": _num(r.saving(p.at_target)),
            "operating": _point(p.operating),
            "saving_at_operating": _num(r.saving(p.operating)),
        }
    )
    if p.is_curve:
        out["deciles"] = [_point(p.points[round(d * 100)]) for d in (0.0, *DECILES, 1.0)]
    else:
        out["point"] = _point(p.points[0])
    return out


def offline_json(r: OfflineResult) -> dict[str, Any]:
    """One benchmark's offline evaluation."""
    paper = r.paper
    return {
        "benchmark": r.benchmark,
        "cheap_model": r.cheap_model,
        "strong_model": r.strong_model,
        "source": r.source,
        "split": {"train": r.n_train, "held_out": r.n_held_out, "contaminated_dropped": r.dropped},
        "cheap_quality": _num(r.cheap_quality),
        "strong_quality": _num(r.strong_quality),
        "target_quality": _num(r.target_quality),
        "cost_unit": r.cost_unit,
        "policies": [_policy(r, p) for p in r.policies],
        "minus_random_at_deciles": {k: [_num(x) for x in v] for k, v in r.beats_random.items()},
        "beats_random_everywhere": {k: all(x > 0 for x in v) for k, v in r.beats_random.items()},
        "calibration": r.calibration.to_json() if r.calibration else None,
        "paper": None
        if paper is None
        else {
            "table": paper.table,
            "best_cpt50": paper.best_cpt50 / 100,
            "best_cpt80": paper.best_cpt80 / 100,
            "best_apgr": paper.best_apgr,
            "random_cpt50": paper.random_cpt50 / 100,
            "saving_ratio_cpt50": paper.saving_ratio_cpt50,
            "saving_ratio_cpt80": paper.saving_ratio_cpt80,
            "published_saving_at_95": paper.published_saving_at_95,
        },
        "notes": list(r.notes),
    }


def _model(m: ModelResult) -> dict[str, Any]:
    return {
        "model": m.model,
        "quality": m.quality.to_json(),
        "errors": m.errors,
        "cost_per_1000_usd": _usd(m.cost_per_1000),
        "input_tokens": m.input_tokens,
        "output_tokens": m.output_tokens,
    }


def _option(o: Option) -> dict[str, Any]:
    return {
        "model": o.model,
        "escalate_to": o.escalate_to,
        "validator": o.validator,
        "escalation_rate": _num(o.escalation_rate),
        "quality": o.quality.to_json(),
        "cost_per_1000_usd": _usd(o.cost_per_1000),
    }


def eval_json(report: EvalReport) -> dict[str, Any]:
    """One ``clawback eval`` run."""
    v = report.verdict
    return {
        "task": report.plan.task,
        "samples": report.samples,
        "scorer": report.plan.scorer.name,
        "reference": report.plan.reference,
        "incumbent": report.incumbent,
        "quality_target": report.plan.quality_target,
        "bar": _num(report.bar),
        "models": [_model(m) for m in report.results],
        "cascades": [_option(c) for c in report.cascades],
        "verdict": {
            "kind": v.kind,
            "model": v.model,
            "escalate_to": v.chosen.escalate_to if v.chosen else None,
            "reason": v.reason,
        },
        "failures": report.failure_counts(),
        "decided": report.decided.isoformat(),
        "notes": list(report.notes),
    }
