"""The ``training:`` section: what the tuning job searches, how trials train, how the model is judged and
registered, and the SageMaker job settings. Both stacks read the same section:

- ``aws``: a SageMaker hyperparameter tuning job (``tuning`` + ``sagemaker``) of ``include/training/train.py``
  in the SageMaker XGBoost framework image, on managed spot with checkpoints;
- ``local``: ``mlpipe.local.tuning`` runs the same script as subprocesses under the same container contract,
  with the same ranges, objective, trial budget, parallelism and MetricDefinitions, searched with Optuna.

The helpers ``static_hyperparameters()``, ``sagemaker_parameter_ranges()``, ``sagemaker_objective()`` and
``sagemaker_metric_definitions()`` give the request fragments of ``CreateHyperParameterTuningJob`` so the
two stacks cannot drift apart. Defaults live in :mod:`mlpipe.defaults`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from mlpipe import defaults
from mlpipe.config.base import IAM_ROLE_ARN, StrictModel
from mlpipe.config.instances import TRAINING, check_instance_type

# Every hyperparameter include/training/train.py accepts (training.params.known_names(); a test keeps the
# two lists equal). Ranges may tune the booster's and num_round; the rest are static.
BOOSTER_HYPERPARAMETERS = (
    "alpha", "colsample_bylevel", "colsample_bynode", "colsample_bytree", "eta", "gamma", "grow_policy",
    "lambda", "max_bin", "max_cat_to_onehot", "max_delta_step", "max_depth", "max_leaves", "min_child_weight",
    "scale_pos_weight", "subsample",
)
ALIASES = ("learning_rate", "min_split_loss", "reg_alpha", "reg_lambda")
SCRIPT_HYPERPARAMETERS = (
    "baseline_margin", "categorical", "checkpoint_dir", "checkpoint_interval", "device", "early_stopping_rounds",
    "eval_metric", "eval_train", "exclude", "features", "keep_checkpoints", "label", "nthread", "num_round",
    "seed", "threshold",
)
TUNABLE = frozenset(BOOSTER_HYPERPARAMETERS + ALIASES + ("num_round",))
# Set from other keys of this section, never in ``hyperparameters``.
DERIVED = frozenset({"label", "exclude", "num_round", "early_stopping_rounds", "checkpoint_interval", "seed",
                     "threshold", "baseline_margin", "checkpoint_dir"})

MAXIMIZED = ("auc", "aucpr", "f1", "precision", "recall", "map", "ndcg")
MINIMIZED = ("logloss", "error", "rmse", "mae", "brier")
GROUP_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
ECR_IMAGE = r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+(:[\w.-]+|@sha256:[0-9a-f]{64})$"
MAX_RANGES = 30              # SageMaker: at most 30 hyperparameters searched
MAX_CATEGORICAL_VALUES = 30  # SageMaker: at most 30 values per categorical range
MAX_RUNTIME_LIMIT = 28 * 24 * 3600


class ContinuousRange(StrictModel):
    type: Literal["continuous"]
    min_value: float
    max_value: float
    scaling: Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"] = "Auto"

    @model_validator(mode="after")
    def _valid(self) -> ContinuousRange:
        if self.min_value >= self.max_value:
            raise ValueError(f"empty range: min_value ({self.min_value}) must be < max_value ({self.max_value})")
        if self.scaling == "Logarithmic" and self.min_value <= 0:
            raise ValueError(f"Logarithmic scaling needs min_value > 0 (got {self.min_value}); use Linear or raise it")
        if self.scaling == "ReverseLogarithmic" and not (0 <= self.min_value and self.max_value < 1):
            raise ValueError(f"ReverseLogarithmic scaling needs 0 <= min_value < max_value < 1 "
                             f"(got {self.min_value}..{self.max_value})")
        return self


class IntegerRange(StrictModel):
    type: Literal["integer"]
    min_value: int
    max_value: int
    scaling: Literal["Auto", "Linear", "Logarithmic"] = "Auto"

    @model_validator(mode="after")
    def _valid(self) -> IntegerRange:
        if self.min_value >= self.max_value:
            raise ValueError(f"empty range: min_value ({self.min_value}) must be < max_value ({self.max_value}); "
                             f"a fixed value belongs in training.hyperparameters")
        if self.scaling == "Logarithmic" and self.min_value <= 0:
            raise ValueError(f"Logarithmic scaling needs min_value > 0 (got {self.min_value}); use Linear or raise it")
        return self


class CategoricalRange(StrictModel):
    type: Literal["categorical"]
    values: list[str] = Field(min_length=1, max_length=MAX_CATEGORICAL_VALUES)

    @field_validator("values", mode="before")
    @classmethod
    def _strings(cls, value: Any) -> Any:
        return [str(v) for v in value] if isinstance(value, list) else value

    @field_validator("values")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        dups = sorted({v for v in value if value.count(v) > 1})
        if dups:
            raise ValueError(f"values listed twice: {dups}")
        return value


Range = Annotated[ContinuousRange | IntegerRange | CategoricalRange, Field(discriminator="type")]


class MetricDefinition(StrictModel):
    """A metric the tuning job reads from the training log: the first group of ``regex`` is the value."""

    name: str = Field(min_length=1, max_length=255)
    regex: str = Field(min_length=1, max_length=500)

    @field_validator("regex")
    @classmethod
    def _one_group(cls, value: str) -> str:
        try:
            groups = re.compile(value).groups
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        if groups != 1:
            raise ValueError(f"must have exactly one capture group for the value (has {groups})")
        return value


class Objective(StrictModel):
    metric: str = defaults.TRAINING_OBJECTIVE_METRIC
    type: Literal["Maximize", "Minimize"] = defaults.TRAINING_OBJECTIVE_TYPE

    @model_validator(mode="after")
    def _direction(self) -> Objective:
        base = self.metric.rsplit(":", 1)[-1]
        if base in MAXIMIZED and self.type == "Minimize":
            raise ValueError(f"{self.metric} is better when larger: set type: Maximize")
        if base in MINIMIZED and self.type == "Maximize":
            raise ValueError(f"{self.metric} is better when smaller: set type: Minimize")
        return self


class TuningConfig(StrictModel):
    """The hyperparameter tuning job (SageMaker HPO; Optuna trials on the local stack)."""

    objective: Objective = Objective()
    strategy: Literal["Bayesian", "Random", "Grid"] = Field(
        defaults.TRAINING_STRATEGY,
        description="Bayesian (Optuna TPE locally), Random, or Grid (categorical ranges only)")
    max_jobs: int = Field(defaults.TRAINING_MAX_JOBS, ge=1, le=500, description="MaxNumberOfTrainingJobs")
    max_parallel_jobs: int = Field(defaults.TRAINING_MAX_PARALLEL_JOBS, ge=1, le=100,
                                   description="MaxParallelTrainingJobs; also the local trial parallelism")
    early_stopping_type: Literal["Off", "Auto"] = Field(
        defaults.TRAINING_EARLY_STOPPING_TYPE,
        description="TrainingJobEarlyStoppingType (SageMaker's median rule); trials always stop on their own "
                    "early_stopping_rounds; the local stack runs every trial to its end")
    ranges: dict[str, Range] = Field(
        default_factory=lambda: {k: dict(v) for k, v in defaults.TRAINING_HYPERPARAMETER_RANGES.items()},
        validate_default=True)
    metric_definitions: list[MetricDefinition] = Field(
        default_factory=lambda: [MetricDefinition(name=n, regex=r) for n, r in defaults.TRAINING_METRIC_DEFINITIONS],
        min_length=1, max_length=40)

    @field_validator("early_stopping_type", mode="before")
    @classmethod
    def _yaml_off(cls, value: Any) -> Any:
        return "Off" if value is False else value  # YAML 1.1 reads a bare Off as false

    @field_validator("ranges")
    @classmethod
    def _ranges(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not value:
            raise ValueError("at least one range is needed; a tuning job with nothing to tune is a training job")
        unknown = sorted(set(value) - TUNABLE)
        if unknown:
            raise ValueError(f"cannot tune {unknown}; tunable hyperparameters are {sorted(TUNABLE)}")
        if len(value) > MAX_RANGES:
            raise ValueError(f"{len(value)} ranges; SageMaker searches at most {MAX_RANGES} hyperparameters")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TuningConfig:
        problems = []
        names = [m.name for m in self.metric_definitions]
        dups = sorted({n for n in names if names.count(n) > 1})
        if dups:
            problems.append(f"metric_definitions: names defined twice: {dups}")
        if self.objective.metric not in names:
            problems.append(f"objective.metric: '{self.objective.metric}' has no entry in metric_definitions "
                            f"(defined: {names}); add one or choose a defined metric")
        if self.max_parallel_jobs > self.max_jobs:
            problems.append(f"max_parallel_jobs ({self.max_parallel_jobs}) must be <= max_jobs ({self.max_jobs})")
        if self.strategy == "Grid":
            not_cat = sorted(n for n, r in self.ranges.items() if not isinstance(r, CategoricalRange))
            if not_cat:
                problems.append(f"strategy Grid searches categorical ranges only; {not_cat} are not "
                                f"(use Bayesian or Random, or list their values)")
        if problems:
            raise ValueError("\n".join(problems))
        return self


class TimeSplit(StrictModel):
    """Time-based split of the gold table by its time column, as days before the run's logical date ``ds``:

    train ``[ds - train_start_days, ds - validation_start_days)``, validation ``[.., ds - test_start_days)``,
    test ``[.., ds - end_days)``. ``end_days`` leaves out the newest rows whose label is not known yet (the
    label's horizon, e.g. 30 days for churned_30d)."""

    train_start_days: int = Field(defaults.TRAINING_SPLIT_TRAIN_START_DAYS, ge=1)
    validation_start_days: int = Field(defaults.TRAINING_SPLIT_VALIDATION_START_DAYS, ge=1)
    test_start_days: int = Field(defaults.TRAINING_SPLIT_TEST_START_DAYS, ge=1)
    end_days: int = Field(defaults.TRAINING_SPLIT_END_DAYS, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> TimeSplit:
        b = [self.train_start_days, self.validation_start_days, self.test_start_days, self.end_days]
        if not b[0] > b[1] > b[2] > b[3]:
            raise ValueError(
                f"boundaries must shrink: train_start_days ({b[0]}) > validation_start_days ({b[1]}) > "
                f"test_start_days ({b[2]}) > end_days ({b[3]}), so train, validation and test are non-empty "
                f"and in time order")
        return self

    def windows(self, ds: dt.date | str) -> dict[str, tuple[dt.date, dt.date]]:
        """``{'train': (start, end), 'validation': ..., 'test': ...}``, each ``[start, end)``."""
        day = dt.date.fromisoformat(ds) if isinstance(ds, str) else ds
        at = [day - dt.timedelta(days=d) for d in (self.train_start_days, self.validation_start_days,
                                                   self.test_start_days, self.end_days)]
        return {"train": (at[0], at[1]), "validation": (at[1], at[2]), "test": (at[2], at[3])}


class EvaluationConfig(StrictModel):
    """The gate between training and registration."""

    decision_threshold: float = Field(defaults.TRAINING_DECISION_THRESHOLD, gt=0, lt=1,
                                      description="score at or above which a customer is predicted to churn")
    baseline_margin: float = Field(defaults.TRAINING_BASELINE_MARGIN, ge=0, le=0.5,
                                   description="test AUC must beat the naive baseline's by at least this")
    champion_tolerance: float = Field(defaults.TRAINING_CHAMPION_TOLERANCE, ge=0, le=0.5,
                                      description="test AUC may trail the approved model's by at most this")


class RegistryConfig(StrictModel):
    model_package_group: str = Field(defaults.MODEL_PACKAGE_GROUP, pattern=GROUP_PATTERN,
                                     description="SageMaker model package group (local: the registry's group)")
    auto_approve: bool = Field(defaults.TRAINING_AUTO_APPROVE,
                               description="register as Approved instead of PendingManualApproval")


class SageMakerTrainingConfig(StrictModel):
    """The training jobs of the tuning job (aws stack)."""

    image_uri: str = Field(defaults.SAGEMAKER_TRAINING_IMAGE_URI, pattern=ECR_IMAGE,
                           description="the SageMaker XGBoost framework image of the region (script mode)")
    instance_type: str = Field(defaults.SAGEMAKER_TRAINING_INSTANCE_TYPE, pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$",
                               description="a family of mlpipe.config.instances.FAMILIES (whether it has local "
                                           "storage decides VolumeKmsKeyId)")
    instance_count: int = Field(1, ge=1, le=1, description="train.py trains on one instance")
    volume_size_gb: int = Field(defaults.SAGEMAKER_TRAINING_VOLUME_GB, ge=1, le=16384)
    use_spot: bool = Field(defaults.SAGEMAKER_USE_SPOT, description="EnableManagedSpotTraining")
    max_runtime_seconds: int = Field(defaults.SAGEMAKER_MAX_RUNTIME_SECONDS, ge=60, le=MAX_RUNTIME_LIMIT,
                                     description="StoppingCondition.MaxRuntimeInSeconds (also a local trial's limit)")
    max_wait_seconds: int | None = Field(defaults.SAGEMAKER_MAX_WAIT_SECONDS, ge=60, le=MAX_RUNTIME_LIMIT,
                                         description="StoppingCondition.MaxWaitTimeInSeconds (spot only)")
    role_arn: str | None = Field(None, pattern=IAM_ROLE_ARN, description="execution role of the training jobs")

    @field_validator("instance_type")
    @classmethod
    def _known_family(cls, value: str) -> str:
        return check_instance_type(value, TRAINING)

    @model_validator(mode="after")
    def _spot(self) -> SageMakerTrainingConfig:
        if self.use_spot:
            if self.max_wait_seconds is None:
                raise ValueError("max_wait_seconds: required with use_spot (MaxWaitTimeInSeconds); set it to at "
                                 f"least max_runtime_seconds ({self.max_runtime_seconds})")
            if self.max_wait_seconds < self.max_runtime_seconds:
                raise ValueError(f"max_wait_seconds ({self.max_wait_seconds}) must be >= max_runtime_seconds "
                                 f"({self.max_runtime_seconds}): with spot, the wait for capacity counts too")
        return self

    def stopping_condition(self) -> dict[str, int]:
        out = {"MaxRuntimeInSeconds": self.max_runtime_seconds}
        if self.use_spot and self.max_wait_seconds is not None:
            out["MaxWaitTimeInSeconds"] = self.max_wait_seconds
        return out


class LocalTuningConfig(StrictModel):
    """Local stack only: each trial's threads (trials x threads should not exceed the machine's cores)."""

    threads_per_trial: int = Field(defaults.LOCAL_TUNING_THREADS_PER_TRIAL, ge=1, le=256)


class TrainingConfig(StrictModel):
    label: str = Field(defaults.TRAINING_LABEL, min_length=1, description="the 0/1 target column of the gold table")
    id_columns: list[str] = Field(default_factory=lambda: list(defaults.TRAINING_ID_COLUMNS),
                                  description="columns that are not features (ids, dates)")
    time_column: str = Field(defaults.TRAINING_TIME_COLUMN, description="the column the split is by")
    split: TimeSplit = TimeSplit()
    num_round: int = Field(defaults.TRAINING_NUM_ROUND, ge=1, le=100_000)
    early_stopping_rounds: int = Field(defaults.TRAINING_EARLY_STOPPING_ROUNDS, ge=0,
                                       description="stop a trial when validation has not improved for this "
                                                   "many rounds (0: off)")
    checkpoint_interval: int = Field(defaults.TRAINING_CHECKPOINT_INTERVAL, ge=0,
                                     description="rounds between checkpoints (0: only on SIGTERM)")
    seed: int = Field(defaults.TRAINING_SEED, ge=0)
    hyperparameters: dict[str, str | int | float | bool] = Field(
        default_factory=lambda: dict(defaults.TRAINING_STATIC_HYPERPARAMETERS),
        description="static hyperparameters of every trial (XGBoost's names)")
    tuning: TuningConfig = TuningConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    registry: RegistryConfig = RegistryConfig()
    sagemaker: SageMakerTrainingConfig = SageMakerTrainingConfig()
    local: LocalTuningConfig = LocalTuningConfig()

    @field_validator("hyperparameters")
    @classmethod
    def _static(cls, value: dict[str, Any]) -> dict[str, Any]:
        known = set(BOOSTER_HYPERPARAMETERS + ALIASES + SCRIPT_HYPERPARAMETERS)
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown hyperparameters {unknown}; train.py accepts {sorted(known)}")
        derived = sorted(set(value) & DERIVED)
        if derived:
            raise ValueError(f"{derived} are set by their own keys of the training section (label, id_columns, "
                             f"num_round, early_stopping_rounds, checkpoint_interval, seed, evaluation...), "
                             f"not here")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TrainingConfig:
        problems = []
        both = sorted(set(self.hyperparameters) & set(self.tuning.ranges))
        if both:
            problems.append(f"hyperparameters: {both} also have a range in tuning.ranges; keep one")
        if self.label in self.id_columns:
            problems.append(f"id_columns: must not contain the label '{self.label}'")
        if self.early_stopping_rounds and self.early_stopping_rounds >= self.num_round:
            problems.append(f"early_stopping_rounds ({self.early_stopping_rounds}) must be < num_round "
                            f"({self.num_round}), or 0 to turn early stopping off")
        if self.sagemaker.use_spot and self.checkpoint_interval == 0:
            problems.append("checkpoint_interval: 0 with sagemaker.use_spot loses every round done before a spot "
                            "interruption; set it to a number of rounds (e.g. 10)")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # ---- request fragments, the same for both stacks ---------------------------------------------------------

    def static_hyperparameters(self) -> dict[str, str]:
        """Every trial's fixed hyperparameters, as the strings SageMaker passes (StaticHyperParameters)."""
        out = {
            "label": self.label,
            "exclude": ",".join(self.id_columns),
            "num_round": str(self.num_round),
            "early_stopping_rounds": str(self.early_stopping_rounds),
            "checkpoint_interval": str(self.checkpoint_interval),
            "seed": str(self.seed),
            "threshold": repr(self.evaluation.decision_threshold),
            "baseline_margin": repr(self.evaluation.baseline_margin),
        }
        for name, value in self.hyperparameters.items():
            out[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        for name in self.tuning.ranges:
            out.pop(name, None)
        return out

    def sagemaker_parameter_ranges(self) -> dict[str, list[dict[str, Any]]]:
        """``HyperParameterTuningJobConfig.ParameterRanges``."""
        out: dict[str, list[dict[str, Any]]] = {
            "ContinuousParameterRanges": [], "IntegerParameterRanges": [], "CategoricalParameterRanges": []}
        for name, r in self.tuning.ranges.items():
            if isinstance(r, ContinuousRange):
                out["ContinuousParameterRanges"].append(
                    {"Name": name, "MinValue": repr(r.min_value), "MaxValue": repr(r.max_value), "ScalingType": r.scaling})
            elif isinstance(r, IntegerRange):
                out["IntegerParameterRanges"].append(
                    {"Name": name, "MinValue": str(r.min_value), "MaxValue": str(r.max_value), "ScalingType": r.scaling})
            else:
                out["CategoricalParameterRanges"].append({"Name": name, "Values": list(r.values)})
        return out

    def sagemaker_objective(self) -> dict[str, str]:
        """``HyperParameterTuningJobConfig.HyperParameterTuningJobObjective``."""
        return {"Type": self.tuning.objective.type, "MetricName": self.tuning.objective.metric}

    def sagemaker_metric_definitions(self) -> list[dict[str, str]]:
        """``AlgorithmSpecification.MetricDefinitions`` of the training job definition."""
        return [{"Name": m.name, "Regex": m.regex} for m in self.tuning.metric_definitions]


__all__ = ["CategoricalRange", "ContinuousRange", "EvaluationConfig", "IntegerRange", "LocalTuningConfig",
           "MetricDefinition", "Objective", "RegistryConfig", "SageMakerTrainingConfig", "TimeSplit",
           "TrainingConfig", "TuningConfig"]
