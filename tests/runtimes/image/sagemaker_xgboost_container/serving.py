"""The image's serving entry (``serve`` and SAGEMAKER_SERVING_MODULE ``sagemaker_xgboost_container.serving:main``),
script-mode branch.

``serving_entrypoint`` (the ``serve`` command) defaults OMP_NUM_THREADS to 1 and starts ``sagemaker_containers``'
server (gunicorn with gevent workers running ``main``; nginx in front unless SAGEMAKER_USE_NGINX=false).
``main`` is the WSGI app: on its first request it imports the module SAGEMAKER_PROGRAM names and wraps it in a
``Transformer``: with ``transform_fn`` (and none of ``input_fn``/``predict_fn``/``output_fn``, which the image
refuses next to it) that one function, otherwise the three; served by ``sagemaker_containers``' Flask
``Worker``. Without SAGEMAKER_PROGRAM the image would serve its built-in algorithm, which this stand-in refuses.
"""

import importlib
import os

from sagemaker_containers.beta.framework import env, server, transformer, worker

app = None


def _transformer(module):
    model_fn = getattr(module, "model_fn", transformer.default_model_fn)
    steps = {name: getattr(module, name, None) for name in ("input_fn", "predict_fn", "output_fn")}
    transform_fn = getattr(module, "transform_fn", None)
    if transform_fn is not None and any(steps.values()):
        raise RuntimeError("Cannot use transform_fn implementation with input_fn, predict_fn, and/or output_fn")
    if transform_fn is not None:
        return transformer.Transformer(model_fn=model_fn, transform_fn=transform_fn)
    missing = [name for name, fn in steps.items() if fn is None]
    if missing:  # the image fills these in with its own decoders, which the project never relies on
        raise RuntimeError(f"the user module lacks {missing}; this stand-in has no image defaults for them")
    return transformer.Transformer(model_fn=model_fn, **steps)


def main(environ, start_response):
    global app
    if app is None:
        serving_env = env.ServingEnv()
        if serving_env.module_name is None:
            raise RuntimeError("no SAGEMAKER_PROGRAM: the image would serve its built-in algorithm")
        user = _transformer(importlib.import_module(serving_env.module_name))
        user.initialize()
        app = worker.Worker(transform_fn=user.transform, module_name=serving_env.module_name)
    return app(environ, start_response)


def serving_entrypoint():
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    server.start(env.ServingEnv().framework_module)


if __name__ == "__main__":
    serving_entrypoint()
