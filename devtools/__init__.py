"""Developer tooling for the local stack (never shipped to MWAA): Airflow setup, `make run`, backfills."""
