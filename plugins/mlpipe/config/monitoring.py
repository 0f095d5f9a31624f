"""The ``monitoring:`` section: drift of live data and predictions against the serving model's training
baseline, and when that requests retraining (ml_monitoring). The same on both stacks: the workload
(``include/monitoring``) reads the gold partition, the endpoint's data capture (S3 or ``<lake>/capture``) and
the model's ``baseline.json``. Defaults live in :mod:`mlpipe.defaults`.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from mlpipe import defaults
from mlpipe.config.base import StrictModel

REPORTS_DIR = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


class MonitoringThresholds(StrictModel):
    """What counts as drift. A feature drifts when its effect size crosses the threshold **and** its test rejects
    at ``p_value`` (KS for numbers, chi-square for categories, a two-proportion z-test for missing rates)."""

    psi: float = Field(defaults.MONITORING_PSI, gt=0, description="population stability index of a feature")
    p_value: float = Field(defaults.MONITORING_P_VALUE, gt=0, lt=1,
                           description="significance level of every test; bounds the false-alarm rate")
    missing_rate_delta: float = Field(defaults.MONITORING_MISSING_RATE_DELTA, gt=0, le=1,
                                      description="absolute change of a feature's missing rate")
    new_category_share: float = Field(defaults.MONITORING_NEW_CATEGORY_SHARE, gt=0, le=1,
                                      description="share of rows in categories the model never saw")
    prediction_psi: float = Field(defaults.MONITORING_PREDICTION_PSI, gt=0,
                                  description="PSI of the score distribution (10 bins on [0, 1])")
    auc_drop: float = Field(defaults.MONITORING_AUC_DROP, gt=0, le=1,
                            description="AUC on matured labels this far below the model's test AUC: decay")
    min_drifted_features: int = Field(defaults.MONITORING_MIN_DRIFTED_FEATURES, ge=1,
                                      description="drifted features that make a population drift")


class MonitoringCapture(StrictModel):
    """Which captured endpoint traffic (``deployment.data_capture``) is compared."""

    enabled: bool = True
    window: Literal["logical_date", "latest"] = Field(
        defaults.MONITORING_CAPTURE_WINDOW,
        description="logical_date: the run's UTC day(s) of inference time (SageMaker's YYYY/MM/DD/HH folders); "
                    "latest: the newest days that hold capture files")
    days: int = Field(defaults.MONITORING_CAPTURE_DAYS, ge=1, le=31, description="days of capture, ending there")


class MonitoringConfig(StrictModel):
    min_rows: int = Field(defaults.MONITORING_MIN_ROWS, ge=1,
                          description="fewer live rows: the check says insufficient_data, never drift")
    min_positives: int = Field(defaults.MONITORING_MIN_POSITIVES, ge=1)
    thresholds: MonitoringThresholds = MonitoringThresholds()
    features: list[str] = Field(default_factory=list,
                                description="features to check; empty: every feature of the model's schema")
    report_only: list[str] = Field(default_factory=list,
                                   description="features checked and reported that never request retraining")
    label_snapshots: int = Field(defaults.MONITORING_LABEL_SNAPSHOTS, ge=0, le=52,
                                 description="newest labelled snapshots of gold scored for the AUC; 0: no AUC")
    capture: MonitoringCapture = MonitoringCapture()
    retrain: bool = Field(True, description="emit the retraining Asset when drift, decay or a config change is found")
    retrain_on_config_change: bool = Field(True, description="the training/feature config hash differs from the "
                                                             "serving model's: the deterministic trigger")
    cooldown_hours: int = Field(defaults.MONITORING_COOLDOWN_HOURS, ge=0, le=24 * 365,
                                description="no second retraining request within this many hours of logical time")
    reports_dir: str = Field(defaults.MONITORING_REPORTS_DIR,
                             description="under the lake root: <dir>/dt=<ds>/drift.json|drift.html, <dir>/_state.json")

    @field_validator("reports_dir")
    @classmethod
    def _folder_in_the_lake(cls, value: str) -> str:
        parts = value.split("/")
        if not REPORTS_DIR.match(value) or any(p in (".", "..") for p in parts):
            raise ValueError("must be a folder under the lake root: names of letters, digits, '_', '.' and '-' "
                             f"joined by '/', no '.' or '..' and no leading or trailing '/' (e.g. "
                             f"{defaults.MONITORING_REPORTS_DIR})")
        return value

    @model_validator(mode="after")
    def _report_only_subset(self) -> MonitoringConfig:
        stray = sorted(set(self.report_only) - set(self.features)) if self.features else []
        if stray:
            raise ValueError(f"report_only lists {stray}, which are not among features {self.features}; "
                             f"add them to features or leave features empty (every feature)")
        return self


__all__ = ["MonitoringCapture", "MonitoringConfig", "MonitoringThresholds"]
