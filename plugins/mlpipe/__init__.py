"""mlpipe: an Airflow DAG package for end-to-end ML pipelines on AWS (MWAA) and on a local stack.

Imports run one way (``tests/unit/test_import_graph.py`` fails on a cycle or an upward import)::

    errors, defaults, paths, naming     the shared leaves
    config                              the typed configuration (pydantic), loaded from include/config/<env>.yaml
    lake, manifest, quarantine          the lake's layout (LakeLayout spells every path), manifests, rejects
    services                            run-time services chosen by config: storage, model registry, endpoints
    local, sample                       the local stack's engines; the embedded sample business
    tasks                               what runs inside the tasks (shared bodies and per-stack ones)
    dagkit                              what every DAG shares: default args, DAG keywords, the Assets
    stacks                              build time only: each stack adds its operators and TaskGroups to a DAG
"""

__version__ = "0.1.0"
