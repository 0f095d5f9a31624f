#!/bin/bash
# EMR bootstrap action (runs on every node before YARN and Spark start): installs the spark_jobs' Python
# packages into the python3 that PySpark uses on EMR 7. Arguments: pinned pip requirements, e.g.
#   great-expectations==1.24.1
# `make deploy` uploads it to s3://<aws.code_bucket>/emr/bootstrap/install-python-packages.sh (the key is
# named in plugins/mlpipe/stacks/aws/code.py); the packages come from emr.cluster.python_packages.
set -euo pipefail
[ "$#" -gt 0 ] || exit 0
sudo python3 -m pip install --quiet --no-cache-dir "$@"
