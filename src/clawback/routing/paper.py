"""The RouteLLM paper's published figures for the same data, to print beside clawback's (pure data).

Source: Ong, Almahairi, Wu, Chiang, Wu, Gonzalez, Kadous, Stoica, "RouteLLM: Learning to Route LLMs
with Preference Data", arXiv:2406.18665v4 (ICLR 2025), https://arxiv.org/abs/2406.18665 —
section 5.1 Table 2 (5-shot MMLU), Table 3 (8-shot GSM8K), section 5.4 Table 6 (cost saving
ratio), Appendix D (price estimate: GPT-4 $24.7, Mixtral 8x7B $0.24 per million tokens).

What the figures mean, so they are compared fairly:

* CPT(x%) is the percentage of calls to GPT-4 needed to recover x% of the gap between Mixtral and
  GPT-4; APGR is the area under that recovery curve.
* The paper's "cost saving ratio" is the random router's CPT divided by the best router's CPT (how
  many times fewer GPT-4 calls than random), not a saving against always-GPT-4.
* The paper's routers are trained on Chatbot Arena preferences augmented with ~1,500 MMLU
  validation-split labels (MMLU) or GPT-4-judge labels (GSM8K) — out of domain for the test
  prompts. clawback's router is trained on 70% of the same benchmark and tested on the other 30%:
  an in-domain, easier setting. The paper evaluates on the whole benchmark, clawback on its
  held-out 30%.
* The paper quotes "95% of GPT-4 quality" only for MT Bench (3.66x at CPT(50%)); for MMLU, CPT(50%)
  is 92% of GPT-4's score and for GSM8K 87%. It publishes no MMLU or GSM8K figure at 95%.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["PAPER_FIGURES", "PAPER_SOURCE", "PaperFigures"]

PAPER_SOURCE: Final = (
    "Ong et al., RouteLLM: Learning to Route LLMs with Preference Data, arXiv:2406.18665v4 (ICLR 2025)"
)


@dataclass(frozen=True, slots=True)
class PaperFigures:
    """One benchmark's published results (percentages of calls to the strong model)."""

    table: str
    random_cpt50: float
    random_cpt80: float
    random_apgr: float
    best_cpt50: float
    best_cpt50_router: str
    best_cpt80: float
    best_cpt80_router: str
    best_apgr: float
    best_apgr_router: str
    saving_ratio_cpt50: float
    saving_ratio_cpt80: float
    quality_at_cpt50: str
    cheap_to_strong_price: float = 0.24 / 24.7


PAPER_FIGURES: Final[dict[str, PaperFigures]] = {
    "mmlu": PaperFigures(
        table="Table 2 (5-shot MMLU) and Table 6",
        random_cpt50=50.07,
        random_cpt80=79.93,
        random_apgr=0.500,
        best_cpt50=35.40,
        best_cpt50_router="SW ranking, Arena + gold labels",
        best_cpt80=70.31,
        best_cpt80_router="causal LLM, Arena + gold labels",
        best_apgr=0.603,
        best_apgr_router="SW ranking, Arena + gold labels",
        saving_ratio_cpt50=1.41,
        saving_ratio_cpt80=1.14,
        quality_at_cpt50="92% of GPT-4 (75 vs 81)",
    ),
    "gsm8k": PaperFigures(
        table="Table 3 (8-shot GSM8K) and Table 6",
        random_cpt50=50.00,
        random_cpt80=80.08,
        random_apgr=0.497,
        best_cpt50=33.64,
        best_cpt50_router="causal LLM, Arena + judge labels",
        best_cpt80=63.26,
        best_cpt80_router="causal LLM, Arena + judge labels",
        best_apgr=0.622,
        best_apgr_router="causal LLM, Arena + judge labels",
        saving_ratio_cpt50=1.49,
        saving_ratio_cpt80=1.27,
        quality_at_cpt50="87% of GPT-4 (75 vs 86)",
    ),
}
