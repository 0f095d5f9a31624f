"""The monitoring section (mlpipe.config.monitoring): defaults, and an error naming the key, the value and the fix
for every wrong value."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from mlpipe import defaults
from mlpipe.config import ConfigError, load_config
from mlpipe.config.monitoring import MonitoringConfig

ROOT = Path(__file__).resolve().parents[3]
LOCAL = yaml.safe_load((ROOT / "include/config/local.yaml").read_text())


def error_of(tmp_path: Path, monitoring: dict) -> str:
    doc = copy.deepcopy(LOCAL)
    doc["monitoring"] = monitoring
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError) as info:
        load_config("t", environ={"MLPIPE_CONFIG_DIR": str(tmp_path)})
    return str(info.value)


def test_defaults_come_from_the_defaults_module():
    m = MonitoringConfig()
    assert (m.min_rows, m.min_positives, m.label_snapshots, m.cooldown_hours, m.reports_dir) == (
        defaults.MONITORING_MIN_ROWS, defaults.MONITORING_MIN_POSITIVES, defaults.MONITORING_LABEL_SNAPSHOTS,
        defaults.MONITORING_COOLDOWN_HOURS, defaults.MONITORING_REPORTS_DIR)
    t = m.thresholds
    assert (t.psi, t.p_value, t.missing_rate_delta, t.new_category_share, t.prediction_psi, t.auc_drop,
            t.min_drifted_features) == (
        defaults.MONITORING_PSI, defaults.MONITORING_P_VALUE, defaults.MONITORING_MISSING_RATE_DELTA,
        defaults.MONITORING_NEW_CATEGORY_SHARE, defaults.MONITORING_PREDICTION_PSI, defaults.MONITORING_AUC_DROP,
        defaults.MONITORING_MIN_DRIFTED_FEATURES)
    assert (m.capture.enabled, m.capture.window, m.capture.days) == (
        True, defaults.MONITORING_CAPTURE_WINDOW, defaults.MONITORING_CAPTURE_DAYS)
    assert m.features == [] and m.report_only == [] and m.retrain and m.retrain_on_config_change


def test_report_only_may_name_any_feature_when_every_feature_is_checked():
    assert MonitoringConfig(report_only=["industry"]).report_only == ["industry"]
    assert MonitoringConfig(features=["industry", "plan"], report_only=["industry"]).features == ["industry", "plan"]


def test_the_shipped_local_config_reports_some_features_only():
    m = load_config("local", environ={}).monitoring
    assert "industry" in m.report_only and m.capture.window == "latest"


@pytest.mark.parametrize("folder", ["reports/monitoring", "drift", "a.b/c-d_e"])
def test_reports_dir_is_a_folder_under_the_lake(folder: str):
    assert MonitoringConfig(reports_dir=folder).reports_dir == folder


@pytest.mark.parametrize(
    ("monitoring", "expected"),
    [
        ({"min_rows": 0}, "monitoring.min_rows: Input should be greater than or equal to 1 (got 0)"),
        ({"thresholds": {"psi": 0}}, "monitoring.thresholds.psi: Input should be greater than 0 (got 0)"),
        ({"thresholds": {"p_value": 1}}, "monitoring.thresholds.p_value: Input should be less than 1 (got 1)"),
        ({"thresholds": {"auc_drop": 2}}, "monitoring.thresholds.auc_drop: Input should be less than or equal to 1"),
        ({"thresholds": {"ks": 0.1}}, "monitoring.thresholds.ks: unknown key; remove it or fix its spelling"),
        ({"capture": {"window": "today"}}, "monitoring.capture.window: Input should be 'logical_date' or 'latest' "
                                           "(got 'today')"),
        ({"capture": {"days": 32}}, "monitoring.capture.days: Input should be less than or equal to 31 (got 32)"),
        ({"label_snapshots": 53}, "monitoring.label_snapshots: Input should be less than or equal to 52 (got 53)"),
        ({"cooldown_hours": -1}, "monitoring.cooldown_hours: Input should be greater than or equal to 0 (got -1)"),
        ({"features": ["plan"], "report_only": ["industry"]},
         "monitoring: report_only lists ['industry'], which are not among features ['plan']; add them to features or "
         "leave features empty (every feature)"),
        ({"reports_dir": "/reports"}, "monitoring.reports_dir: must be a folder under the lake root: names of "
                                      "letters, digits, '_', '.' and '-' joined by '/', no '.' or '..' and no leading "
                                      "or trailing '/' (e.g. reports/monitoring) (got '/reports')"),
        ({"reports_dir": "reports/"}, "monitoring.reports_dir: must be a folder under the lake root"),
        ({"reports_dir": "drift reports"}, "monitoring.reports_dir: must be a folder under the lake root"),
        # a '..' would write the reports (and the cooldown's _state.json) outside the lake
        ({"reports_dir": "../outside"}, "monitoring.reports_dir: must be a folder under the lake root"),
        ({"reports_dir": "reports/../../etc"}, "monitoring.reports_dir: must be a folder under the lake root"),
        ({"reports_dir": "."}, "monitoring.reports_dir: must be a folder under the lake root"),
    ],
)
def test_invalid_monitoring_names_key_value_and_fix(tmp_path: Path, monitoring: dict, expected: str):
    assert expected in error_of(tmp_path, monitoring)
