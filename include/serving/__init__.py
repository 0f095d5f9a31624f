"""The inference handler (SageMaker container contract): the same code serves on SageMaker (endpoint and batch
transform) and on the local stack (``mlpipe.local.endpoint``, ``mlpipe.local.batch``). Never imports Airflow or
mlpipe; only numpy and xgboost (both in the SageMaker XGBoost image), in Python 3.8 syntax.

Modules, one job each:

- ``inference``        the contract: model_fn, input_fn, predict_fn, output_fn, invoke (the handler's interface)
- ``sagemaker_entry``  the SageMaker XGBoost image's entry module (``code/inference.py`` in model.tar.gz)
- ``errors``           the client errors (HTTP 400/406/413/415, with what to fix) and the model-load error
- ``content_types``    the request and response content types, and the choice of the response's type
- ``request_parsing``  CSV and JSON request bodies into a ``Payload`` (payload limit, nesting limit)
- ``payload``          the parsed request, and where one of its rows came from
- ``schema``           the feature schema (``feature_schema.json``): read, checked, written
- ``matrix``           a payload as the model's float32 matrix, checked against the schema
- ``model``            the model directory and the loaded model (Booster, schema, prediction)
- ``fast_predict``     the ctypes call of XGBoost's dense prediction (bit-identical, faster for one row)
- ``messages``         how messages quote names and values
- ``testing``          small model directories for tests and benchmarks (not in model.tar.gz)

model.tar.gz carries every module but ``testing`` under ``code/serving/`` (``include/training/model_code.py``).
"""
