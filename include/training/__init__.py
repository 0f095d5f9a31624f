"""The training workload: SageMaker script-mode entry point ``train.py`` and its small modules.

Runs unchanged inside the SageMaker XGBoost framework container (script mode) and, on the local stack, as a
subprocess under the same container contract (``mlpipe.local.tuning``). It never imports Airflow or mlpipe;
its imports are xgboost, numpy, pandas, pyarrow, scikit-learn, matplotlib (plots) and the standard library, and it keeps to
Python 3.8 syntax so older framework images run it too.

Modules, one job each:

- ``contract``    the container contract: hyperparameters, channels, model/output/checkpoint directories
- ``params``      the script's hyperparameters, parsed from the strings SageMaker passes
- ``data``        reading channels (Parquet/CSV), the feature schema, the time-based split
- ``checkpoints`` atomic checkpoints with a checksummed manifest; resume from the newest valid one
- ``callbacks``   per-round metric lines, restorable early stopping, checkpointing, SIGTERM handling
- ``metrics``     metric lines (the MetricDefinitions format) and binary-classification metrics
- ``baseline``    training baseline statistics for drift monitoring, and the naive baseline model
- ``model_code``  the serving handler copied into the model directory's ``code/`` (model.tar.gz carries it)
- ``score``       loading a model directory and scoring rows with it (also a script: the champion's test AUC)
- ``plots``       the evaluation's figures (ROC, precision-recall, feature importance) as PNG files
- ``evaluate``    test-set evaluation of a trained model against the naive baseline, the promotion checks,
                  calibration, confusion and the plots (a script: the Processing job, the local stack)
- ``train``       the entry point that wires them together
"""
