"""Drift statistics of a live population against the training baseline (``baseline.json`` of the model).

Per feature (the baseline's ``features`` section, format 1, see ``include/training/baseline.py``):

- **numeric**: the population stability index (PSI) over the baseline's decile bins, and the two-sample
  Kolmogorov-Smirnov test of the live values against the baseline's ``sample`` of training values;
- **categorical**: PSI over the baseline's categories (its top categories, ``__other__`` and ``__new__`` for
  categories the model never saw), the chi-square test of the 2 x k table of baseline and live counts
  (columns with fewer than :data:`MIN_CELL` rows merged), **new** categories (not in the model's feature
  schema) and **vanished** ones (at least :data:`MIN_CELL` live rows expected, none seen);
- **missing rate**: the live missing rate against the training one, with a two-proportion z-test.

A feature drifts when an effect size crosses its threshold **and** its test rejects at ``p_value``: PSI >=
``psi`` with KS / chi-square p < ``p_value``; |missing-rate delta| >= ``missing_rate_delta`` with z-test
p < ``p_value``; a new-category share >= ``new_category_share``; a vanished category. Requiring the test too
bounds the false-alarm rate: on two samples from one distribution each feature alarms with probability at
most ``p_value`` per test (the effect-size condition only lowers it), so a population of F features with
two tests each alarms with probability at most ``2 * F * p_value`` (union bound). PSI alone would flag
trivial shifts in small samples, a p-value alone trivial shifts in large ones.

Predictions: PSI over the baseline's 10 score bins (``predictions.validation``) and KS against its sample;
drift when PSI >= ``prediction_psi`` and p < ``p_value``. Performance: the AUC on rows whose label has
matured, against the serving model's test AUC; decay when it dropped by ``auc_drop`` or more.

Below ``min_rows`` live rows (``min_positives`` of each class for the AUC) a check's status is
``insufficient_data``: never an alarm. Statuses: ``ok``, ``drift``, ``insufficient_data``, ``not_available``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from training.baseline import histogram  # the training baseline's own binning, so the bins match
from training.metrics import auc

OK = "ok"
DRIFT = "drift"
INSUFFICIENT = "insufficient_data"
NOT_AVAILABLE = "not_available"
OTHER = "__other__"
NEW = "__new__"
RARE = "__rare__"
PSI_EPSILON = 1e-4       # floor of a bin's share in the PSI (an empty bin would make it infinite)
MIN_CELL = 10            # chi-square: columns with fewer rows (baseline + live) are merged; vanished: expected rows
MIN_TEST_VALUES = 50     # fewer non-missing live values: no distribution test (the missing-rate check still runs)


@dataclass(frozen=True)
class Thresholds:
    """What counts as drift (``monitoring.thresholds`` and ``min_rows`` of the pipeline configuration)."""

    psi: float = 0.2
    p_value: float = 0.001
    missing_rate_delta: float = 0.1
    new_category_share: float = 0.005
    prediction_psi: float = 0.2
    auc_drop: float = 0.05
    min_rows: int = 500
    min_positives: int = 10
    min_drifted_features: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---- primitives ----------------------------------------------------------------------------------------------


def psi(expected: Sequence[float], actual: Sequence[float], epsilon: float = PSI_EPSILON) -> float:
    """Population stability index sum((a - e) * ln(a / e)) over bins, shares floored at ``epsilon``."""
    e = np.clip(np.asarray(expected, dtype="float64"), epsilon, None)
    a = np.clip(np.asarray(actual, dtype="float64"), epsilon, None)
    if e.shape != a.shape:
        raise ValueError(f"PSI needs the same bins on both sides, got {len(e)} and {len(a)}")
    return float(np.sum((a - e) * np.log(a / e)))


def ks_test(reference: Sequence[float], live: np.ndarray) -> tuple[float, float]:
    """(statistic, p-value) of the two-sample Kolmogorov-Smirnov test."""
    from scipy import stats

    # both sides as float32 values (what training encodes and the baseline's sample holds), so ties stay ties
    ref = np.asarray(reference, dtype="float32").astype("float64")
    res = stats.ks_2samp(ref, np.asarray(live, dtype="float32").astype("float64"))
    return float(res.statistic), float(res.pvalue)


def two_proportion_p(x1: float, n1: int, x2: float, n2: int) -> float:
    """Two-sided p-value of the two-proportion z-test (x successes of n, on each side)."""
    from scipy import stats

    if n1 <= 0 or n2 <= 0:
        return 1.0
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    diff = x2 / n2 - x1 / n1
    if se == 0:
        return 1.0 if diff == 0 else 0.0
    return float(2 * stats.norm.sf(abs(diff) / se))


def chi_square_p(base_counts: Sequence[float], live_counts: Sequence[float]) -> tuple[float, float]:
    """(statistic, p-value) of the chi-square test of homogeneity of two count vectors over the same bins."""
    from scipy import stats

    table = np.vstack([np.asarray(base_counts, dtype="float64"), np.asarray(live_counts, dtype="float64")])
    totals = table.sum(axis=0)
    small = totals < MIN_CELL
    if small.any():
        merged = table[:, small].sum(axis=1, keepdims=True)
        table = np.hstack([table[:, ~small], merged])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    stat, p, _dof, _exp = stats.chi2_contingency(table, correction=False)
    return float(stat), float(p)


def _round(v: float | None, digits: int = 6) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), digits)


# ---- the live frame --------------------------------------------------------------------------------------------


def schema_features(schema: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The features of ``feature_schema.json`` (name, kind, categories)."""
    return list(schema.get("features") or [])


def prepare(df: pd.DataFrame, schema: Mapping[str, Any]) -> pd.DataFrame:
    """The model's features of ``df`` as the baseline saw them: numeric as float32 values (NaN = missing,
    booleans 1/0), categorical as text (None = missing; unseen categories kept, so they can be counted). A feature the
    frame lacks is entirely missing (which the missing-rate check then reports)."""
    cols: dict[str, Any] = {}
    for f in schema_features(schema):
        name = f["name"]
        if name not in df.columns:
            cols[name] = (pd.Series([None] * len(df), index=df.index, dtype="object") if f["kind"] == "categorical"
                          else pd.Series(np.nan, index=df.index, dtype="float64"))
            continue
        col = df[name]
        if f["kind"] == "categorical":
            cols[name] = col.astype("object").map(lambda v: None if v is None or v != v else str(v))
        else:
            if col.dtype == bool:
                col = col.astype("float64")
            # float32 first: training encodes numbers as float32, and the baseline's bin edges are float32 values
            cols[name] = pd.to_numeric(col.astype("object").map(_number), errors="coerce").astype("float32") \
                .astype("float64")
    return pd.DataFrame(cols, index=df.index)


def _number(v: Any) -> Any:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, str) and v.strip().lower() in ("true", "false"):
        return 1.0 if v.strip().lower() == "true" else 0.0
    return v


# ---- one feature ----------------------------------------------------------------------------------------------


def _missing_check(base: Mapping[str, Any], n_missing: int, n: int, th: Thresholds) -> dict[str, Any]:
    base_rate = float(base.get("missing_rate") or 0.0)
    base_n = int(base.get("count") or 0)
    live_rate = n_missing / n if n else 0.0
    p = two_proportion_p(base_rate * base_n, base_n, n_missing, n) if base_n else 1.0
    delta = live_rate - base_rate
    return {"baseline": _round(base_rate), "live": _round(live_rate), "delta": _round(delta), "p_value": _round(p, 8),
            "drift": abs(delta) >= th.missing_rate_delta and p < th.p_value}


def numeric_drift(name: str, base: Mapping[str, Any], values: Iterable[float], th: Thresholds) -> dict[str, Any]:
    """The drift record of one numeric feature (see the module docstring)."""
    v = np.asarray(list(values) if not isinstance(values, np.ndarray | pd.Series) else values, dtype="float64")
    present = v[~np.isnan(v)]
    out: dict[str, Any] = {"feature": name, "kind": "numeric", "rows": int(len(v)), "reasons": []}
    if len(v) < th.min_rows:
        return {**out, "status": INSUFFICIENT, "reasons": [f"{len(v)} rows < min_rows {th.min_rows}"]}
    out["missing"] = _missing_check(base, int(len(v) - len(present)), len(v), th)
    edges, fractions = list(base.get("edges") or []), base.get("fractions")
    out.update(mean=_round(present.mean()) if len(present) else None, baseline_mean=_round(base.get("mean")),
               edges=edges, baseline_fractions=fractions, fractions=histogram(present, edges))
    dist_drift = False
    if len(present) >= MIN_TEST_VALUES and fractions and base.get("mean") is not None:
        out["psi"] = _round(psi(fractions, out["fractions"]))
        sample = base.get("sample")
        if sample:
            out["ks_statistic"], out["p_value"] = (_round(x, 8) for x in ks_test(sample, present))
        else:
            out["p_value"] = None
            out["note"] = "the baseline has no sample of training values (older model): PSI only"
        dist_drift = out["psi"] >= th.psi and (out["p_value"] is None or out["p_value"] < th.p_value)
        if dist_drift:
            out["reasons"].append(f"PSI {out['psi']:.3f} >= {th.psi}" + (
                f", KS p={out['p_value']:.2g} < {th.p_value}" if out["p_value"] is not None else "")
                + f" (mean {out['baseline_mean']} -> {out['mean']})")
    if out["missing"]["drift"]:
        m = out["missing"]
        out["reasons"].append(f"missing rate {m['baseline']:.3f} -> {m['live']:.3f} (|delta| >= "
                              f"{th.missing_rate_delta}, p={m['p_value']:.2g})")
    out["status"] = DRIFT if (dist_drift or out["missing"]["drift"]) else OK
    return out


def categorical_drift(name: str, base: Mapping[str, Any], values: Iterable[Any], th: Thresholds,
                      known: Sequence[str] | None = None) -> dict[str, Any]:
    """The drift record of one categorical feature; ``known`` are the model's categories (feature schema)."""
    raw = pd.Series(list(values) if not isinstance(values, pd.Series) else values, dtype="object")
    n = len(raw)
    out: dict[str, Any] = {"feature": name, "kind": "categorical", "rows": int(n), "reasons": []}
    if n < th.min_rows:
        return {**out, "status": INSUFFICIENT, "reasons": [f"{n} rows < min_rows {th.min_rows}"]}
    present = raw[raw.map(lambda x: x is not None and x == x)].astype(str)
    out["missing"] = _missing_check(base, int(n - len(present)), n, th)
    freqs: dict[str, float] = {str(k): float(v) for k, v in (base.get("frequencies") or {}).items()}
    known_set = set(known) if known is not None else set(freqs) - {OTHER}
    live_counts = present.value_counts()
    bins = [*freqs, NEW]

    def bin_of(cat: str) -> str:
        if cat in freqs and cat != OTHER:
            return cat
        if cat in known_set or (known is None and OTHER in freqs):
            return OTHER if OTHER in freqs else cat
        return NEW

    binned: dict[str, int] = dict.fromkeys(bins, 0)
    new: dict[str, int] = {}
    for cat, count in live_counts.items():
        b = bin_of(str(cat))
        binned[b] = binned.get(b, 0) + int(count)
        if b == NEW:
            new[str(cat)] = int(count)
    n_present = len(present)
    base_fr = [freqs.get(b, 0.0) for b in bins]
    live_fr = [binned[b] / n_present if n_present else 0.0 for b in bins]
    out.update(categories=bins, baseline_fractions=[_round(x) for x in base_fr],
               fractions=[_round(x) for x in live_fr])
    new_share = sum(new.values()) / n_present if n_present else 0.0
    out["new_categories"] = {k: _round(c / n_present) for k, c in sorted(new.items(), key=lambda kv: -kv[1])}
    out["new_share"] = _round(new_share)
    out["vanished_categories"] = sorted(c for c, f in freqs.items()
                                        if c != OTHER and f * n_present >= MIN_CELL and binned.get(c, 0) == 0)
    dist_drift = False
    if n_present >= MIN_TEST_VALUES and freqs:
        base_n = float(base.get("count") or 0) * (1 - float(base.get("missing_rate") or 0.0))
        out["psi"] = _round(psi(base_fr, live_fr))
        out["chi2_statistic"], out["p_value"] = (_round(x, 8) for x in chi_square_p(
            [f * base_n for f in base_fr], [binned[b] for b in bins]))
        dist_drift = out["psi"] >= th.psi and out["p_value"] < th.p_value
        if dist_drift:
            out["reasons"].append(f"PSI {out['psi']:.3f} >= {th.psi}, chi-square p={out['p_value']:.2g} < "
                                  f"{th.p_value}")
    new_drift = new_share >= th.new_category_share and new_share > 0
    if new_drift:
        shown = ", ".join(f"{k} ({v:.1%})" for k, v in list(out["new_categories"].items())[:5])
        out["reasons"].append(f"new categories {shown}: {new_share:.2%} of rows >= {th.new_category_share:.2%}")
    if out["vanished_categories"]:
        out["reasons"].append(f"vanished categories {out['vanished_categories'][:5]}")
    if out["missing"]["drift"]:
        m = out["missing"]
        out["reasons"].append(f"missing rate {m['baseline']:.3f} -> {m['live']:.3f} (|delta| >= "
                              f"{th.missing_rate_delta}, p={m['p_value']:.2g})")
    drift = dist_drift or new_drift or bool(out["vanished_categories"]) or out["missing"]["drift"]
    out["status"] = DRIFT if drift else OK
    return out


# ---- a population, the predictions, the performance ----------------------------------------------------------------


def population_drift(baseline: Mapping[str, Any], schema: Mapping[str, Any], frame: pd.DataFrame, th: Thresholds,
                     features: Sequence[str] | None = None, report_only: Sequence[str] = ()) -> dict[str, Any]:
    """Every monitored feature of ``frame`` (raw columns; :func:`prepare` is applied) against the baseline.

    ``features`` (default: every feature of the schema) are checked; those also in ``report_only`` are checked
    and reported but never make the population drift (``report_only_drifted`` lists them)."""
    base_feats = baseline.get("features") or {}
    by_name = {f["name"]: f for f in schema_features(schema)}
    names = list(features) if features else [f["name"] for f in schema_features(schema)]
    unknown = [n for n in names if n not in by_name or n not in base_feats]
    if unknown:
        raise ValueError(f"features {unknown} are not in the model's feature schema and baseline; "
                         f"monitorable features: {sorted(set(by_name) & set(base_feats))}")
    live = prepare(frame, {"features": [by_name[n] for n in names]})
    results = {}
    for n in names:
        f = by_name[n]
        if f["kind"] == "categorical":
            results[n] = categorical_drift(n, base_feats[n], live[n], th, f.get("categories"))
        else:
            results[n] = numeric_drift(n, base_feats[n], live[n], th)
    for n in report_only:
        if n in results:
            results[n]["report_only"] = True
    rows = int(len(frame))
    drifted = [n for n, r in results.items() if r["status"] == DRIFT and not r.get("report_only")]
    if rows < th.min_rows:
        status = INSUFFICIENT
    else:
        status = DRIFT if len(drifted) >= th.min_drifted_features else OK
    ranked = sorted(drifted, key=lambda n: -(results[n].get("psi") or 0.0))
    return {"status": status, "rows": rows, "features": results, "drifted": ranked,
            "report_only_drifted": [n for n, r in results.items() if r["status"] == DRIFT and r.get("report_only")],
            "reasons": [f"{n}: {'; '.join(results[n]['reasons'])}" for n in ranked]}


def prediction_drift(base: Mapping[str, Any] | None, scores: np.ndarray | Sequence[float] | None, th: Thresholds
                     ) -> dict[str, Any]:
    """The live scores against the baseline's validation scores (``predictions.validation``)."""
    if not base or scores is None:
        return {"status": NOT_AVAILABLE, "rows": 0 if scores is None else len(scores),
                "reasons": ["no baseline predictions" if not base else "no live predictions"]}
    p = np.asarray(scores, dtype="float64")
    p = p[~np.isnan(p)]
    out: dict[str, Any] = {"rows": int(len(p)), "reasons": []}
    if len(p) < th.min_rows:
        return {**out, "status": INSUFFICIENT, "reasons": [f"{len(p)} predictions < min_rows {th.min_rows}"]}
    edges = list(base.get("edges") or [i / 10 for i in range(1, 10)])
    threshold = base.get("threshold")
    out.update(edges=edges, baseline_fractions=base.get("fractions"), fractions=histogram(p, edges),
               mean=_round(p.mean()), baseline_mean=_round(base.get("mean")),
               share_above_threshold=_round((p >= threshold).mean()) if threshold is not None else None,
               baseline_share_above_threshold=_round(base.get("share_above_threshold")))
    out["psi"] = _round(psi(base["fractions"], out["fractions"]))
    if base.get("sample"):
        out["ks_statistic"], out["p_value"] = (_round(x, 8) for x in ks_test(base["sample"], p))
    else:
        out["p_value"] = None
    drift = out["psi"] >= th.prediction_psi and (out["p_value"] is None or out["p_value"] < th.p_value)
    if drift:
        out["reasons"].append(f"prediction PSI {out['psi']:.3f} >= {th.prediction_psi}"
                              + (f", KS p={out['p_value']:.2g}" if out["p_value"] is not None else "")
                              + f" (mean score {out['baseline_mean']} -> {out['mean']})")
    out["status"] = DRIFT if drift else OK
    return out


def performance(y: np.ndarray | None, scores: np.ndarray | None, reference_auc: float | None, th: Thresholds
                ) -> dict[str, Any]:
    """The AUC on matured labels against ``reference_auc`` (the serving model's test AUC)."""
    if y is None or scores is None:
        return {"status": NOT_AVAILABLE, "rows": 0, "reasons": ["no rows with a matured label"]}
    y = np.asarray(y, dtype="float64")
    pos, n = int(np.sum(y == 1)), int(len(y))
    out: dict[str, Any] = {"rows": n, "positives": pos, "reference_auc": _round(reference_auc), "reasons": []}
    if n < th.min_rows or pos < th.min_positives or n - pos < th.min_positives:
        return {**out, "status": INSUFFICIENT, "auc": None,
                "reasons": [f"{n} labelled rows ({pos} positive); need {th.min_rows} rows and "
                            f"{th.min_positives} of each class"]}
    out["auc"] = _round(auc(y, np.asarray(scores, dtype="float64")))
    if reference_auc is None:
        return {**out, "status": NOT_AVAILABLE, "reasons": ["the serving model records no test AUC to compare with"]}
    out["auc_drop"] = _round(float(reference_auc) - out["auc"])
    decayed = out["auc_drop"] >= th.auc_drop
    if decayed:
        out["reasons"].append(f"AUC {out['auc']:.4f} on matured labels is {out['auc_drop']:.4f} below the model's "
                              f"test AUC {reference_auc:.4f} (>= {th.auc_drop})")
    out["status"] = DRIFT if decayed else OK
    return out


def verdict(checks: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The overall verdict of named checks (populations, predictions, performance): ``drift`` when any
    drifted, ``ok`` when at least one ran and none drifted, else ``insufficient_data``."""
    statuses = {k: c["status"] for k, c in checks.items()}
    drifted = [k for k, s in statuses.items() if s == DRIFT]
    if drifted:
        status = DRIFT
    elif any(s == OK for s in statuses.values()):
        status = OK
    else:
        status = INSUFFICIENT
    reasons = [f"{k}: {r}" for k in drifted for r in checks[k].get("reasons", [])]
    return {"status": status, "checks": statuses, "drifted": drifted, "reasons": reasons}


__all__ = ["DRIFT", "INSUFFICIENT", "NOT_AVAILABLE", "OK", "Thresholds", "auc", "categorical_drift", "histogram",
           "numeric_drift", "performance", "population_drift", "prediction_drift", "prepare", "psi", "verdict"]
