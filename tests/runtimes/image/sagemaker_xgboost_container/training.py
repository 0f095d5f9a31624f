"""The image's SAGEMAKER_TRAINING_MODULE (``sagemaker_xgboost_container.training:main``), script-mode branch.

``train`` (sagemaker_containers' console script) imports this and calls ``main``: with a ``sagemaker_program``
hyperparameter the image hands the job to ``sagemaker_containers``' ``run_module``: the submit directory
(the sourcedir tarball) is unpacked into /opt/ml/code, pip-installed, and the program runs as
``python -m <module>`` with every hyperparameter as ``--name value``. Without it the image would run its
built-in algorithm, which this stand-in refuses (the project never uses it).
"""

import sys

import sagemaker_containers.beta.framework as framework


def main():
    env = framework.training_env()
    if env.user_entry_point is None:
        raise SystemExit("no sagemaker_program hyperparameter: the image would run its built-in algorithm")
    framework.modules.run_module(env.module_dir, env.to_cmd_args(), env.to_env_vars(), env.module_name,
                                 capture_error=False)
    sys.exit(0)
