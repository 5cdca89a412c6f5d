"""Fitting the risk signal on the normative population: both scorers trained on the FIT
people's originals and injected variants, then the one that ranks injected droop above the
same person's original better on the HELD-OUT people is kept (mean paired AUC over droop
sizes; the issue's acceptance figure is the 3 mm AUC)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from facesym_pipeline.lib.classify.risk import RiskModel, deviation_matrix, fit_risk_models
from facesym_pipeline.lib.classify.validity import ranking
from facesym_pipeline.lib.measure.reference_split import FIT, HELD_OUT


@dataclass(frozen=True)
class RiskFit:
    chosen: RiskModel
    models: dict[str, RiskModel]
    scores: pl.DataFrame  # out-of-fold scores of the fit people, per method
    comparison: pl.DataFrame  # held-out paired AUC per method and droop size


def why_not_fittable(media: pl.DataFrame | None) -> str | None:
    if media is None or media.height == 0:
        return "the injected reference dataset has no analysed media"
    fit = media.filter(pl.col("split") == FIT)
    if fit.filter(pl.col("label") == 1).height == 0 or fit.filter(pl.col("label") == 0).height == 0:
        return "the fit people need both originals and injected variants"
    if fit["subject_id"].n_unique() < 10:
        return f"only {fit['subject_id'].n_unique()} fit people; at least 10 are needed"
    return None


def fit_risk(media: pl.DataFrame, seed: int = 0) -> RiskFit:
    """`media`: `population_media` rows of the injected reference dataset (originals with
    label 0, injected variants with label 1, every person fit or held out)."""
    fit = media.filter(pl.col("split") == FIT)
    models, scores = fit_risk_models(
        deviation_matrix(fit), fit["label"].to_numpy(), fit["subject_id"].to_numpy(), seed
    )
    held = media.filter(pl.col("split") == HELD_OUT)
    rows = []
    for method, model in models.items():
        for r in ranking(held, model, seed):
            if r["item"].startswith("droop"):
                rows.append({"method": method} | r)
    comparison = pl.DataFrame(rows) if rows else pl.DataFrame()

    def mean_auc(method: str) -> float:
        if comparison.height == 0:
            return float("nan")
        values = comparison.filter(pl.col("method") == method)["value"].to_numpy()
        return float(np.nanmean(values)) if values.size else float("nan")

    # Ties and a held-out set without droop keep the simpler rule.
    chosen = "logistic" if mean_auc("logistic") > mean_auc("rule") else "rule"
    return RiskFit(models[chosen], models, scores, comparison)
