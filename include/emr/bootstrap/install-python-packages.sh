#!/bin/bash
# EMR bootstrap action (runs on every node before YARN and Spark start): installs the spark_jobs' Python
# packages into the Python that PySpark runs on. EMR 7's /usr/bin/python3 is 3.9, too old for
# great-expectations 1.24.1; from emr-7.1.0 on the nodes also have /usr/bin/python3.11, which the cluster's
# spark-env and spark-defaults make PySpark's Python. Arguments:
#   --python /usr/bin/python3.11 great-expectations==1.24.1 pandas==2.2.3 ...
# (the interpreter first, then pinned pip requirements). `make deploy` uploads it to
# s3://<aws.code_bucket>/emr/bootstrap/install-python-packages.sh (the key is named in
# plugins/mlpipe/stacks/aws/code.py); the request builds its arguments from emr.cluster.python_packages.
set -euo pipefail
PYTHON=/usr/bin/python3.11
if [ "${1:-}" = "--python" ]; then
    [ "$#" -ge 2 ] || { echo "install-python-packages.sh: --python needs an interpreter" >&2; exit 2; }
    PYTHON=$2
    shift 2
fi
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "install-python-packages.sh: $PYTHON not found on this node: use an EMR 7.x release from emr-7.1.0 on" \
         "(they ship Python 3.11)" >&2
    exit 1
fi
[ "$#" -gt 0 ] || exit 0
# pip may be missing for the second Python: the distribution's package, else Python's own bootstrapper
if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
    pip_package="$(basename "$PYTHON")-pip"
    sudo dnf install -y -q "$pip_package" >/dev/null 2>&1 || sudo "$PYTHON" -m ensurepip --upgrade
fi
sudo "$PYTHON" -m pip install --quiet --no-cache-dir --disable-pip-version-check "$@"
