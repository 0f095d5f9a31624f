"""mlpipe: an Airflow DAG package for end-to-end ML pipelines on AWS (MWAA) and on a local stack."""

__version__ = "0.1.0"
