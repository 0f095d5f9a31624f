"""Drift monitoring workload: live data and predictions against the training baseline saved with the model.

Pure numpy / scipy / pandas (matplotlib for the report); never imports Airflow or mlpipe, so it runs the same
on an MWAA worker and on the local stack. Modules:

- ``drift``: the statistics (PSI, KS / chi-square, missing-rate, category, prediction drift, AUC) and verdicts;
- ``capture``: SageMaker data-capture JSON lines -> feature frame + scores;
- ``report``: the HTML report (plots embedded as base64 PNG) of a summary ``drift`` built.
"""
