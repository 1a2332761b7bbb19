"""HTML reports: self-contained, escaped, with the chart and the side-by-side failures."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from clawback.routing.curves import CurvePoint
from clawback.routing.evaluate import EvalPlan, EvalReport, Failure, ModelResult
from clawback.routing.learned import Calibration
from clawback.routing.offline import OfflineResult, PolicyResult
from clawback.routing.offline_data import Outcome
from clawback.routing.paper import PAPER_FIGURES
from clawback.routing.report import eval_html, offline_html
from clawback.routing.scorers import parse_scorer
from clawback.routing.stats import proportion
from clawback.routing.verdict import Option, Verdict


def _model(name: str, k: int, cost: str) -> ModelResult:
    return ModelResult(
        name,
        ("a",) * 50,
        (True,) * k + (False,) * (50 - k),
        proportion(k, 50),
        0,
        (Decimal(cost),) * 50,
        100,
        10,
    )


def test_eval_html_escapes_and_shows_everything() -> None:
    plan = EvalPlan("t<script>", ("haiku", "sonnet"), parse_scorer("label"))
    cheap = _model("haiku", 40, "0.0001")
    report = EvalReport(
        plan=plan,
        samples=50,
        incumbent="sonnet",
        bar=0.9,
        results=(cheap, _model("sonnet", 49, "0.002")),
        cascades=(Option("haiku", proportion(48, 50), Decimal("0.3"), "sonnet", "labels", 0.2),),
        verdict=Verdict("keep", "sonnet", 0.9, "because <reasons>"),
        failures=(Failure("s1", "haiku", "<b>question</b>", "a", "b", "a", escalated=False),),
        decided=date(2026, 11, 25),
    )
    html = eval_html(report)
    assert "<script>" not in html and "t&lt;script&gt;" in html
    assert "&lt;b&gt;question&lt;/b&gt;" in html
    assert "Verdict: keep" in html and "<svg" in html and "[0.670, 0.888]" in html
    assert "cascade haiku -&gt; sonnet" in html
    assert "haiku: 10 of 50 samples wrong (the first 1 shown)" in html  # the exact count, not just the list
    assert "accepted: the wrong answer is served" in html


def test_offline_html_has_the_curve_the_paper_and_failures() -> None:
    points = tuple(CurvePoint(s / 10, 0.6 + 0.02 * s, 0.1 + s / 10) for s in range(11))
    result = OfflineResult(
        benchmark="mmlu",
        cheap_model="cheap",
        strong_model="strong",
        source="somewhere",
        n_train=70,
        n_held_out=30,
        dropped=1,
        cheap_quality=0.6,
        strong_quality=0.8,
        target_quality=0.76,
        cost_unit="relative",
        policies=(
            PolicyResult("always-strong", (CurvePoint(1.0, 0.8, 1.0),)),
            PolicyResult("random", points, band=tuple((p.quality - 0.01, p.quality + 0.01) for p in points)),
            PolicyResult(
                "learned", points, operating=CurvePoint(0.5, 0.7, 0.6), cpt50=0.5, cpt80=0.8, apgr=0.5
            ),
            PolicyResult("cascade", (), note="not evaluated"),
        ),
        beats_random={"learned": (0.01,) * 9},
        calibration=Calibration(0.5, 0.95, 0.7, 0.5, 70, True),
        failures=(Outcome("x1", "Which <one>?", 0.0, 1.0, None, "B"),),
        paper=PAPER_FIGURES["mmlu"],
    )
    html = offline_html([result])
    assert html.count("<svg") == 1 and "polyline" in html and "polygon" in html
    assert "Which &lt;one&gt;?" in html and "(answer text not in the data)" in html
    assert "35.40%" in html and "arXiv:2406.18665" in html
    # the authors' saving at 95% of GPT-4's quality sits beside clawback's, with its provenance
    assert "45% (authors' announcement)" in html and "sky.cs.berkeley.edu/project/routellm" in html
    assert "not re-checked against it digit by digit" in html
