"""The offline evaluation on the real RouteLLM and RouterArena outcomes (skips without ../shared).

One test per benchmark: each evaluation trains several models, so it runs once and everything
about it is checked in the same place.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clawback.pricing.loader import load_catalogue
from clawback.routing.arena_replay import routerarena_via_emulator
from clawback.routing.offline import DECILES, OfflineResult, evaluate_benchmark, is_held_out
from clawback.routing.offline_data import load_routellm, load_routerarena
from clawback.routing.report import offline_html
from clawback.routing.serialise import offline_json
from tests.conftest import shared_file

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


def _data() -> Path:
    return shared_file("data", "routellm-evals", "gsm8k", "gsm8k_responses.csv").parents[2]


def _check_learned_beats_random(result: OfflineResult, prompts: int, held_out: int) -> None:
    assert result.n_train + result.n_held_out == prompts  # after RouteLLM's own decontamination
    assert result.n_held_out == held_out  # the fixed split
    deltas = result.beats_random["learned"]
    assert len(deltas) == len(DECILES)
    assert all(d > 0 for d in deltas), deltas
    learned = result.policy("learned")
    assert learned is not None and learned.apgr is not None and learned.apgr > 0.5
    assert learned.at_target is not None and result.saving(learned.at_target) is not None
    data = offline_json(result)
    assert data["beats_random_everywhere"]["learned"] is True
    assert data["paper"]["best_cpt50"] > 0
    assert data["paper"]["published_saving_at_95"] in (0.45, 0.35)  # the authors' figure, beside ours


def test_mmlu_learned_router_beats_random_at_every_point_on_held_out_prompts() -> None:
    result = evaluate_benchmark(load_routellm(_data(), "mmlu"))
    _check_learned_beats_random(result, 14037, 4217)
    cascade = result.policy("cascade")
    assert cascade is not None and not cascade.points
    assert "no cheap-model answer text" in cascade.note


def test_gsm8k_learned_router_and_cascade_beat_random_at_every_point() -> None:
    result = evaluate_benchmark(load_routellm(_data(), "gsm8k"))
    _check_learned_beats_random(result, 1307, 396)
    assert all(d > 0 for d in result.beats_random["cascade"])
    html = offline_html([result])
    assert html.count("<svg") == 1 and "RouteLLM" in html and "side by side" in html


def test_split_is_by_prompt_text() -> None:
    assert is_held_out("same text") == is_held_out("same text")
    shares = sum(is_held_out(f"prompt {i}") for i in range(10_000)) / 10_000
    assert 0.28 < shares < 0.32


def test_routerarena_through_the_emulator_serves_the_recorded_answers() -> None:
    root = shared_file("data", "routerarena-cached", "cost.json").parents[1]
    catalogue = load_catalogue()
    direct = load_routerarena(root, catalogue=catalogue)
    served = routerarena_via_emulator(root, catalogue, limit=40)
    assert len(direct.outcomes) == 809 and len(served.outcomes) == 40
    by_id = {o.id: o for o in direct.outcomes}
    for o in served.outcomes:
        recorded = by_id[o.id]
        assert (o.cheap_answer, o.strong_answer) == (recorded.cheap_answer, recorded.strong_answer)
        assert (o.cheap, o.strong) == (recorded.cheap, recorded.strong)
        assert o.cheap_cost is not None and o.cheap_cost > 0
    # "strong" means the dearer model of the pair: Claude 3 Haiku ($0.25 / $1.25 per MTok) costs about
    # four times Gemini 2.0 Flash ($0.10 / $0.40) per call on these prompts — and scores lower
    assert direct.strong_model == "claude-3-haiku-20240307"
    strong_cost = sum(o.strong_cost or 0 for o in direct.outcomes)
    cheap_cost = sum(o.cheap_cost or 0 for o in direct.outcomes)
    assert 3 < strong_cost / cheap_cost < 5
    result = evaluate_benchmark(direct)
    assert result.strong_quality < result.cheap_quality  # Claude 3 Haiku is the dearer and weaker one here
    assert result.notes and "no better" in result.notes[0]
    assert result.cost_unit.startswith("USD per 1,000 calls")
