"""Local-stack engines that stand in for AWS services (no Airflow imports)."""
