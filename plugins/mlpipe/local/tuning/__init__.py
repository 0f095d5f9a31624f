"""Local hyperparameter tuning: the SageMaker tuning job's search, run as subprocesses on this machine.

Each trial runs ``include/training/train.py`` unchanged, as a subprocess under the SageMaker training container
contract, in its own directory that mimics ``/opt/ml``::

    <workdir>/<tuning job name>/
        study.journal                       Optuna's journal (the search's memory; resumable)
        trials/<name>-<NNN>-<hash>/         one training job, named like SageMaker's
            input/config/hyperparameters.json   every hyperparameter as a string (SM_INPUT_CONFIG_DIR)
            model/                          SM_MODEL_DIR: model.json, feature_schema.json, baseline.json, ...
            output/model.tar.gz             the model directory packed, as SageMaker uploads it
            output/data/                    SM_OUTPUT_DATA_DIR: history.json (+ evaluation.json)
            output/failure                  why it failed (the job's FailureReason)
            checkpoints/                    SM_CHECKPOINT_DIR
            train.log                       stdout + stderr (what CloudWatch would hold)
            trial.json                      the trial's record (status, metrics, timings)

The channels (``SM_CHANNEL_TRAIN``, ``SM_CHANNEL_VALIDATION``, ...) point at the caller's directories; no copy
is made. The objective and the other metrics are read from the trial's log with the configured MetricDefinitions
regexes, the latest match of each, as SageMaker reports a job's final metrics.

Modules, one job each (``from mlpipe.local.tuning.job import tune``):

- ``job``            the tuning job: search, parallel trials, resumption, the lock, stopping with the tuner
- ``search_space``   hyperparameters from the ranges, the sampler of each strategy, the budget, the fingerprint
- ``trial``          one trial run to its end: outcome, FailureReason, model.tar.gz, record
- ``trial_process``  the trial's process: container environment, max runtime, SIGTERM then SIGKILL, orphans
- ``metrics``        metrics read from a training log with the MetricDefinitions regexes
- ``records``        the trial's spec and record (``trial.json``) and the job's result
"""
