"""Runs: configs, checkpoints, run state, logging, distributed meta-batches and the training loop.

Import the modules directly (``metagen.train.loop``, ``metagen.train.config``, ...); this package
file imports nothing so that the engine can use ``metagen.train.distributed`` without cycles.
"""
