"""SageMaker script-mode entry point: train an XGBoost binary classifier under the container contract.

Inputs (see ``contract``): hyperparameters (``params`` lists them; ``label`` is required), channels
``train`` and ``validation`` (Parquet or CSV), optionally ``test``. Outputs in the model directory:
``model.json`` (cut at the best iteration when early stopping is on), ``feature_schema.json``,
``baseline.json``, ``metrics.json`` and ``code/`` (the serving handler, see ``model_code``); in the output data directory ``history.json`` and, with a test
channel, ``evaluation.json``.

Behaviour worth knowing:

- ``tree_method=hist`` on ``device=cuda`` when the container has a GPU (``SM_NUM_GPUS`` > 0, or a visible
  CUDA device when that variable is unset), on the CPU otherwise; ``device=cpu|cuda`` forces one.
- Checkpoints in this job's own directory, ``<checkpoint dir>/<TRAINING_JOB_NAME>`` (``contract``).
- A checkpoint every ``checkpoint_interval`` rounds; on start the newest valid checkpoint is resumed, and
  the resumed run ends with the same model, bit for bit, as an uninterrupted one (the sampler is reseeded
  from the round number, the early-stopping state travels in the checkpoint; keep ``nthread`` the same).
- SIGTERM (spot interruption, StopTrainingJob): the running round finishes, a checkpoint is written and the
  process exits with status 143 well within SageMaker's 120 s.
- One metric line per round and a ``final:`` line (see ``metrics``) for the MetricDefinitions regexes.
- Any error ends with status 1 and its reason in ``/opt/ml/output/failure`` (the job's FailureReason).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Sequence

if __package__ in (None, ""):  # script mode (python train.py): make the sibling modules importable
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _package import ensure_package  # type: ignore[import-not-found]

    ensure_package()

import numpy as np  # noqa: E402
import xgboost as xgb  # noqa: E402

from training import contract  # noqa: E402
from training.baseline import fit_naive_baseline, training_baseline  # noqa: E402
from training.callbacks import Interrupt, RunState, TrainingMonitor  # noqa: E402
from training.checkpoints import CheckpointStore, write_atomic  # noqa: E402
from training.data import DataError, encode, infer_schema, labels, read_channel  # noqa: E402
from training.evaluate import evaluate_frame, promotion_checks  # noqa: E402
from training.metrics import binary_metrics, final_line, format_values  # noqa: E402
from training.model_code import write_model_code  # noqa: E402
from training.params import HyperparameterError, TrainParams, parse  # noqa: E402
from training.score import predict  # noqa: E402

XGB_MAJOR = int(xgb.__version__.split(".")[0])


def log(message: str) -> None:
    print(message, flush=True)


def choose_device(requested: str, num_gpus: int) -> str:
    if requested != "auto":
        return requested
    return "cuda" if contract.cuda_visible(num_gpus) else "cpu"


def booster_params(params: TrainParams, device: str, nthread: int) -> dict[str, object]:
    out = params.xgb_params(device, nthread)
    if XGB_MAJOR < 2:  # XGBoost 1.x (older framework images): no 'device'; the GPU is a tree method
        out.pop("device", None)
        out["tree_method"] = "gpu_hist" if device == "cuda" else "hist"
    return out


def _matrix(X, y, nthread: int, max_bin: int, ref=None):
    quantile = getattr(xgb, "QuantileDMatrix", None)
    if quantile is not None:
        return quantile(X, label=y, enable_categorical=True, nthread=nthread, max_bin=max_bin, ref=ref)
    return xgb.DMatrix(X, label=y, enable_categorical=True, nthread=nthread)


def _write_json(path: str, doc: dict[str, object]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomic(path, json.dumps(doc, indent=2, sort_keys=True, default=_jsonable).encode())


def _jsonable(value: object) -> object:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    raise TypeError(f"not JSON serialisable: {value!r}")


def _checkpoint_store(directory: str, keep: int) -> CheckpointStore | None:
    try:
        os.makedirs(directory, exist_ok=True)
        probe = os.path.join(directory, ".write-probe")
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as exc:
        log(f"checkpoints off: cannot write to {directory} ({exc}); set checkpoint_dir or SM_CHECKPOINT_DIR")
        return None
    return CheckpointStore(directory, keep=keep, log=log)


def run(env: contract.ContainerEnv, interrupt: Interrupt) -> int:
    params = parse(env.hyperparameters)
    started = time.perf_counter()
    for name in ("train", "validation"):
        if not env.channel(name):
            raise DataError(f"channel '{name}' is required (SM_CHANNEL_{name.upper()}); channels given: {sorted(env.channels)}")
    train_df = read_channel(env.channels["train"], "train")
    valid_df = read_channel(env.channels["validation"], "validation")
    schema = infer_schema(train_df, params.label, params.exclude, params.features, params.categorical)
    X_train, y_train = encode(train_df, schema), labels(train_df, params.label, "train")
    X_valid, y_valid = encode(valid_df, schema), labels(valid_df, params.label, "validation")
    if len(np.unique(y_train)) < 2:
        raise DataError(f"channel 'train': the label {params.label!r} holds a single class; nothing to learn")

    device = choose_device(params.device, env.num_gpus)
    nthread = params.nthread or (os.cpu_count() or 1)
    max_bin = int(params.booster.get("max_bin", 256))  # type: ignore[arg-type]
    log(f"xgboost {xgb.__version__} device={device} nthread={nthread} train_rows={len(X_train)} "
        f"validation_rows={len(X_valid)} features={len(schema.features)} hyperparameters_from={env.sources}")
    dtrain = _matrix(X_train, y_train, nthread, max_bin)
    dvalid = _matrix(X_valid, y_valid, nthread, max_bin, ref=dtrain)
    load_seconds = time.perf_counter() - started

    fingerprint = params.fingerprint(schema.names)
    store = _checkpoint_store(env.checkpoint_dir, params.keep_checkpoints)
    state, booster = RunState(), None
    if store is not None:
        store.clean_temporaries()
        found = store.latest_valid(fingerprint)
        if found is not None:
            ckpt, booster = found
            state = RunState.from_dict(ckpt.state)
            log(f"resumed from checkpoint: round={ckpt.rounds} file={os.path.basename(ckpt.model_path)}")
    done = booster.num_boosted_rounds() if booster is not None else 0
    resumed_from = done

    objective_key = f"validation:{params.objective_metric}"
    monitor = TrainingMonitor(state, objective_key=objective_key, maximize=params.maximize,
                              early_stopping_rounds=params.early_stopping_rounds, store=store,
                              checkpoint_interval=params.checkpoint_interval, fingerprint=fingerprint,
                              interrupt=interrupt, log=log)
    evals = [(dtrain, "train"), (dvalid, "validation")] if params.eval_train else [(dvalid, "validation")]
    train_started, train_cpu_started = time.perf_counter(), time.process_time()
    remaining = params.num_round - done
    if remaining > 0 and not state.stopped_early:
        interrupt.training = True
        booster = xgb.train(booster_params(params, device, nthread), dtrain, num_boost_round=remaining,
                            evals=evals, callbacks=[monitor], xgb_model=booster, verbose_eval=False)
        interrupt.training = False
    train_seconds = time.perf_counter() - train_started
    train_cpu_seconds = time.process_time() - train_cpu_started
    if interrupt.requested:
        waited = time.monotonic() - (interrupt.received_at or time.monotonic())
        log(f"interrupted: checkpoint at round {monitor.interrupted_at_round} written {waited:.2f} s after SIGTERM; "
            f"exiting with status {contract.EXIT_INTERRUPTED}")
        return contract.EXIT_INTERRUPTED
    assert booster is not None
    rounds = booster.num_boosted_rounds()

    # The final model: cut at the best iteration when early stopping is on, else every round.
    best_iteration = state.best_iteration if params.early_stopping_rounds and state.best_iteration >= 0 else rounds - 1
    final = booster[: best_iteration + 1] if best_iteration + 1 < rounds else booster
    valid_scores = predict(final, X_valid)
    at_best = state.values_at(best_iteration)
    extra = binary_metrics(y_valid, valid_scores, params.threshold, prefix="validation:")
    final_values = dict(at_best)
    for key in ("validation:aucpr", "validation:precision", "validation:recall", "validation:f1",
                "validation:brier"):
        final_values.setdefault(key, extra[key])  # type: ignore[arg-type]
    log(final_line(best_iteration, rounds, final_values))

    os.makedirs(env.model_dir, exist_ok=True)
    final.save_model(os.path.join(env.model_dir, contract.MODEL_FILE))
    _write_json(os.path.join(env.model_dir, contract.SCHEMA_FILE), schema.to_dict())
    naive = fit_naive_baseline(X_train, y_train, schema)
    baseline_doc = training_baseline(X_train, y_train, y_valid, valid_scores, schema, params.threshold, naive)
    _write_json(os.path.join(env.model_dir, contract.BASELINE_FILE), baseline_doc)
    summary: dict[str, object] = {
        "format": 1, "objective_metric": objective_key, "objective_value": final_values.get(objective_key),
        "best_iteration": best_iteration, "rounds": rounds, "num_round": params.num_round,
        "stopped_early": state.stopped_early, "resumed_from_round": resumed_from,
        "metrics": final_values, "device": device, "nthread": nthread, "xgboost": xgb.__version__,
        "rows": {"train": int(len(X_train)), "validation": int(len(X_valid))},
        "seconds": {"load": round(load_seconds, 4), "train": round(train_seconds, 4),
                    "train_cpu": round(train_cpu_seconds, 4),
                    "checkpoint": round(store.seconds, 4) if store else 0.0},
        "checkpoints_written": store.written if store else 0,
        "hyperparameters": {k: v for k, v in sorted(env.hyperparameters.items())},
    }
    if env.channel("test"):
        test_df = read_channel(env.channels["test"], "test")
        evaluation = evaluate_frame(final, schema, baseline_doc, test_df, params.threshold)
        evaluation["gate"] = promotion_checks(evaluation, params.baseline_margin)
        _write_json(os.path.join(env.output_data_dir, contract.EVALUATION_FILE), evaluation)
        model_metrics: dict[str, float | None] = evaluation["model"]  # type: ignore[assignment]
        log("test: " + format_values({"test:" + k: v for k, v in model_metrics.items()
                                      if k in ("auc", "aucpr", "logloss", "f1") and v is not None}))
        summary["test"] = {"auc": model_metrics["auc"], "naive_auc": evaluation["baselines"]["naive"]["auc"],  # type: ignore[index]
                           "gate_passed": evaluation["gate"]["passed"]}  # type: ignore[index]
    summary["code"] = write_model_code(env.model_dir)
    _write_json(os.path.join(env.model_dir, contract.METRICS_FILE), summary)
    _write_json(os.path.join(env.output_data_dir, contract.HISTORY_FILE),
                {"history": state.history, "best_iteration": best_iteration})
    log(f"model written: {env.model_dir} ({best_iteration + 1} rounds, best iteration {best_iteration})")
    return 0


def main(argv: Sequence[str] | None = None, environ: dict[str, str] | None = None) -> int:
    interrupt = Interrupt(log, contract.EXIT_INTERRUPTED)
    interrupt.install()
    try:
        env = contract.ContainerEnv.from_environ(environ, list(sys.argv[1:] if argv is None else argv))
    except (ValueError, OSError) as exc:
        log(f"error: {exc}")
        return contract.EXIT_FAILED
    try:
        return run(env, interrupt)
    except (HyperparameterError, DataError) as exc:
        log(f"error: {exc}")
        env.write_failure(str(exc))
        return contract.EXIT_FAILED
    except Exception as exc:  # anything else: the reason goes to the job's FailureReason, the trace to the log
        traceback.print_exc()
        sys.stdout.flush()
        env.write_failure(f"{type(exc).__name__}: {exc}")
        return contract.EXIT_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
