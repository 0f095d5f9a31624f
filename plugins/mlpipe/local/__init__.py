"""The local stack's engines, standing in for AWS services on this machine (DMS full load and CDC, DataSync,
S3 drops, the tuning job, the endpoint with blue/green, the batch transform). No Airflow operator in them;
task bodies (:mod:`mlpipe.tasks`) and the local services (:mod:`mlpipe.services`) call them."""
