"""Where the workload code lives in the code bucket (``aws.code_bucket``); ``make deploy`` uploads it there.

The one place that names these keys: the EMR steps, the EMR Serverless job runs and the deploy target
all read them from here. No Airflow or boto3 import (the deploy tooling uses it too).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlpipe.config import PipelineConfig
from mlpipe.errors import ConfigError

# key in the bucket -> what `make deploy` puts there
MAIN_KEY = "spark_jobs/main.py"                         # include/spark_jobs/main.py
PY_FILES_KEY = "spark_jobs.zip"                         # include/spark_jobs/ as a package zip (--py-files)
BOOTSTRAP_KEY = "emr/bootstrap/install-python-packages.sh"  # include/emr/bootstrap/install-python-packages.sh
SERVERLESS_VENV_KEY = "emr/pyspark_venv.tar.gz"         # venv-pack of the spark_jobs' Python packages (Serverless)


@dataclass(frozen=True)
class CodeLocation:
    bucket: str

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    @property
    def main(self) -> str:
        return self.uri(MAIN_KEY)

    @property
    def py_files(self) -> str:
        return self.uri(PY_FILES_KEY)

    @property
    def bootstrap(self) -> str:
        return self.uri(BOOTSTRAP_KEY)

    @property
    def serverless_venv(self) -> str:
        return self.uri(SERVERLESS_VENV_KEY)

    @classmethod
    def from_config(cls, cfg: PipelineConfig) -> CodeLocation:
        if cfg.aws is None or not cfg.aws.code_bucket:
            raise ConfigError(
                f"aws.code_bucket: required for ml_features on the 'aws' stack (environment {cfg.environment}); "
                "set it to the bucket `make deploy` uploads include/spark_jobs to"
            )
        return cls(cfg.aws.code_bucket)
