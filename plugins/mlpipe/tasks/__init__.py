"""What runs inside the tasks: one module per stage (``features``, ``training``, ``deployment``, ...), the
shared bodies in ``<stage>.py`` and the bodies only one stack runs in ``<stage>_aws.py`` / ``<stage>_local.py``.

Task bodies reach storage, the model registry and the endpoint through :mod:`mlpipe.services`, lake paths
through :class:`mlpipe.lake.LakeLayout`, the local engines through :mod:`mlpipe.local`; never through a stack.
"""
