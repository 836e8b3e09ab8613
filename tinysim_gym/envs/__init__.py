"""Gymnasium glue: the single env, the batched vector env and the registered ids."""
