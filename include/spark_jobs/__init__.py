"""mlpipe's PySpark workload: bronze -> silver -> gold with a Great Expectations quality gate.

Runs unchanged on EMR (``spark-submit s3://<code>/spark_jobs/main.py --py-files s3://<code>/spark_jobs.zip``)
and locally (``spark-submit --master local[*] include/spark_jobs/main.py``). Everything a run needs comes
from its job spec (JSON, rendered by ``mlpipe.tasks.feature_spec.job_spec``); this package never imports
Airflow or mlpipe.

Modules, one job each::

    spec.py      read and check the job spec; the contract's lake paths
    session.py   the SparkSession and its settings
    fs.py        lake file operations through Hadoop's FileSystem (file:// and s3:// alike)
    bronze.py    read committed bronze partitions (DMS parquet, JSON lines, CSV) as raw records
    silver.py    classify records (good / quarantined with a reason), deduplicate, build current state
    cdc.py       apply DMS full load + CDC by primary key in commit order
    gold_sql.py  render the gold feature SQL from the spec (Spark SQL, or DuckDB for the benchmark)
    gold.py      point-in-time features and labels per entity and as-of date
    quality.py   expectation suites -> Great Expectations on the Spark DataFrame, plus pipeline checks
    report.py    the readable HTML report of a verdict
    publish.py   atomic commit of a partition, or its quarantine, and the verdict files
    steps.py     the silver and gold steps, wired from the above
    main.py      the command line (spark-submit entry point)
"""

__version__ = "1.0.0"
