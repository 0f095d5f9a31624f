"""The training script's hyperparameters: names, types, defaults, parsed from the strings SageMaker passes.

Three groups:

- data: ``label`` (required), ``exclude`` (id and time columns, comma-separated), ``features`` (default:
  every other column), ``categorical`` (default: every string/categorical column);
- the run: ``num_round``, ``early_stopping_rounds`` (0 = off), ``checkpoint_interval`` (rounds; 0 = only on
  SIGTERM), ``keep_checkpoints``, ``checkpoint_dir``, ``seed``, ``nthread`` (0 = every core), ``device``
  (auto/cpu/cuda), ``eval_metric`` (the first one on validation drives early stopping), ``eval_train``,
  ``threshold`` (decision threshold of the reported precision/recall/F1), ``baseline_margin`` (the gate);
- the booster: :data:`BOOSTER_PARAMS` (XGBoost's names; ``learning_rate``/``reg_lambda``/``reg_alpha``/
  ``min_split_loss`` are accepted as aliases).

Names starting with ``sagemaker_`` or ``_`` (the SDK's and the tuner's own, e.g. ``_tuning_objective_metric``)
are ignored; any other unknown name is an error, so a typo never trains silently with a default.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# name -> (type, lower bound or None, upper bound or None). Types: float, int, str.
BOOSTER_PARAMS: dict[str, tuple[type, float | None, float | None]] = {
    "eta": (float, 0.0, 1.0),
    "max_depth": (int, 0, 64),
    "min_child_weight": (float, 0.0, None),
    "subsample": (float, 0.0, 1.0),
    "colsample_bytree": (float, 0.0, 1.0),
    "colsample_bylevel": (float, 0.0, 1.0),
    "colsample_bynode": (float, 0.0, 1.0),
    "gamma": (float, 0.0, None),
    "lambda": (float, 0.0, None),
    "alpha": (float, 0.0, None),
    "max_bin": (int, 2, 65536),
    "scale_pos_weight": (float, 0.0, None),
    "max_delta_step": (float, 0.0, None),
    "grow_policy": (str, None, None),
    "max_leaves": (int, 0, None),
    "max_cat_to_onehot": (int, 1, None),
}
ALIASES = {"learning_rate": "eta", "reg_lambda": "lambda", "reg_alpha": "alpha", "min_split_loss": "gamma"}
GROW_POLICIES = ("depthwise", "lossguide")
DEVICES = ("auto", "cpu", "cuda")
# Metrics where a larger value is better (XGBoost's names); every other metric is minimised.
MAXIMIZE_METRICS = ("auc", "aucpr", "map", "ndcg", "pre")
EVAL_METRICS = ("auc", "aucpr", "logloss", "error", "map", "ndcg", "pre", "rmse", "mae")


class HyperparameterError(ValueError):
    """A hyperparameter is missing, unknown or has a bad value; the message says which and what is allowed."""


@dataclass(frozen=True)
class TrainParams:
    label: str
    exclude: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    categorical: list[str] | None = None
    num_round: int = 100
    early_stopping_rounds: int = 0
    checkpoint_interval: int = 10
    keep_checkpoints: int = 2
    checkpoint_dir: str | None = None
    seed: int = 0
    nthread: int = 0
    device: str = "auto"
    eval_metric: list[str] = field(default_factory=lambda: ["auc", "logloss"])
    eval_train: bool = True
    threshold: float = 0.5
    baseline_margin: float = 0.0
    booster: dict[str, object] = field(default_factory=dict)

    @property
    def objective_metric(self) -> str:
        """The metric early stopping and the final line report: the first eval_metric on validation."""
        return self.eval_metric[0]

    @property
    def maximize(self) -> bool:
        return self.objective_metric in MAXIMIZE_METRICS

    def xgb_params(self, device: str, nthread: int) -> dict[str, object]:
        """XGBoost's parameter dict. ``seed_per_iteration`` reseeds the sampler from the round number, so a
        run resumed from a checkpoint draws the same rows and columns as an uninterrupted one."""
        params: dict[str, object] = {
            "objective": "binary:logistic",
            "tree_method": "hist",
            "device": device,
            "seed": self.seed,
            "seed_per_iteration": True,
            "nthread": nthread,
            "eval_metric": list(self.eval_metric),
            "validate_parameters": True,
        }
        params.update(self.booster)
        return params

    def fingerprint(self, feature_names: list[str]) -> str:
        """What a checkpoint must match to be resumed: booster parameters, seed, metrics, features, label."""
        blob = json.dumps({"booster": self.booster, "seed": self.seed, "eval_metric": self.eval_metric,
                           "label": self.label, "features": feature_names}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _parse_bool(name: str, value: str) -> bool:
    low = value.strip().lower()
    if low in ("true", "1", "yes", "y", "on"):
        return True
    if low in ("false", "0", "no", "n", "off"):
        return False
    raise HyperparameterError(f"{name}: must be true or false, got {value!r}")


def _parse_int(name: str, value: str) -> int:
    try:
        number = float(value)
    except ValueError:
        raise HyperparameterError(f"{name}: must be an integer, got {value!r}") from None
    if not math.isfinite(number) or number != int(number):
        raise HyperparameterError(f"{name}: must be an integer, got {value!r}")
    return int(number)


def _parse_float(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise HyperparameterError(f"{name}: must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise HyperparameterError(f"{name}: must be a finite number, got {value!r}")
    return number


def _parse_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _bounded(name: str, number: float, low: float | None, high: float | None) -> None:
    if low is not None and number < low:
        raise HyperparameterError(f"{name}: must be >= {low}, got {number}")
    if high is not None and number > high:
        raise HyperparameterError(f"{name}: must be <= {high}, got {number}")


SCRIPT_PARAMS: dict[str, Callable[[str, str], object]] = {
    "label": lambda n, v: v.strip(),
    "exclude": lambda n, v: _parse_list(v),
    "features": lambda n, v: _parse_list(v),
    "categorical": lambda n, v: _parse_list(v),
    "num_round": _parse_int,
    "early_stopping_rounds": _parse_int,
    "checkpoint_interval": _parse_int,
    "keep_checkpoints": _parse_int,
    "checkpoint_dir": lambda n, v: v.strip() or None,
    "seed": _parse_int,
    "nthread": _parse_int,
    "device": lambda n, v: v.strip().lower(),
    "eval_metric": lambda n, v: _parse_list(v),
    "eval_train": _parse_bool,
    "threshold": _parse_float,
    "baseline_margin": _parse_float,
}


def known_names() -> list[str]:
    """Every hyperparameter the script accepts (aliases included)."""
    return sorted(list(SCRIPT_PARAMS) + list(BOOSTER_PARAMS) + list(ALIASES))


def parse(raw: Mapping[str, str]) -> TrainParams:
    """Typed parameters from SageMaker's strings; :class:`HyperparameterError` names every problem at once."""
    problems: list[str] = []
    values: dict[str, object] = {}
    booster: dict[str, object] = {}
    for name in sorted(raw):
        if name.startswith("sagemaker_") or name.startswith("_"):
            continue
        value = str(raw[name])
        key = ALIASES.get(name, name)
        try:
            if key in SCRIPT_PARAMS:
                values[key] = SCRIPT_PARAMS[key](key, value)
            elif key in BOOSTER_PARAMS:
                kind, low, high = BOOSTER_PARAMS[key]
                if kind is str:
                    parsed: object = value.strip()
                    if key == "grow_policy" and parsed not in GROW_POLICIES:
                        raise HyperparameterError(f"grow_policy: must be one of {list(GROW_POLICIES)}, got {value!r}")
                else:
                    parsed = _parse_int(key, value) if kind is int else _parse_float(key, value)
                    _bounded(key, float(parsed), low, high)  # type: ignore[arg-type]
                if key in booster:
                    raise HyperparameterError(f"{key}: given twice (as {name} and an alias)")
                booster[key] = parsed
            else:
                raise HyperparameterError(f"{name}: unknown hyperparameter; the script accepts {known_names()}")
        except HyperparameterError as exc:
            problems.append(str(exc))
    if not values.get("label"):
        problems.append("label: required; the name of the 0/1 target column (e.g. label=churned_30d)")
    checks = [
        ("num_round", lambda v: v >= 1, "must be >= 1"),
        ("early_stopping_rounds", lambda v: v >= 0, "must be >= 0 (0 turns early stopping off)"),
        ("checkpoint_interval", lambda v: v >= 0, "must be >= 0 (0: checkpoint only on SIGTERM)"),
        ("keep_checkpoints", lambda v: v >= 1, "must be >= 1"),
        ("nthread", lambda v: v >= 0, "must be >= 0 (0: every core)"),
        ("threshold", lambda v: 0.0 < v < 1.0, "must be between 0 and 1 (exclusive)"),
        ("device", lambda v: v in DEVICES, f"must be one of {list(DEVICES)}"),
        ("eval_metric", lambda v: bool(v) and all(m in EVAL_METRICS for m in v), f"must be a comma-separated list of {list(EVAL_METRICS)}"),
    ]
    for name, ok, what in checks:
        if name in values and not ok(values[name]):
            problems.append(f"{name}: {what}, got {raw.get(name)!r}")
    label = values.get("label")
    if label and label in (values.get("exclude") or []):
        problems.append(f"exclude: must not contain the label column {label!r}")
    if label and label in (values.get("features") or []):
        problems.append(f"features: must not contain the label column {label!r}")
    if problems:
        raise HyperparameterError("bad hyperparameters:\n  " + "\n  ".join(problems))
    return TrainParams(booster=booster, **values)  # type: ignore[arg-type]
