"""Meta-batches spread over worker threads (``meta.batching=threads``).

On a CPU, the operations of one small task (a 4-layer network on a handful of 28x28 images) are too
small to keep several cores busy: splitting each convolution over two threads costs more in
synchronisation than it saves. Splitting the meta-batch instead, each worker thread running whole
tasks with single-threaded operations, keeps every core on useful work. PyTorch's operations and
autograd release the interpreter lock, so the workers run in parallel.

``torch.func.functional_call`` swaps a module's parameters while it runs, so two threads may not
share a module: each worker owns a replica of the learner (network, family and all), whose
parameters are set to the learner's before every meta-batch. The meta-gradients with respect to a
replica's parameters are those with respect to the learner's (the same values), and they are summed
in task order, so the result does not depend on which worker ran which task: it equals the loop
run with single-threaded operations exactly, and the default loop up to float rounding.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Iterator

import torch

from metagen.tasks.task import Task

if TYPE_CHECKING:
    from metagen.meta.learners import MetaLearner

TaskResult = tuple[list[torch.Tensor | None], float]


@contextlib.contextmanager
def single_threaded_ops() -> Iterator[None]:
    """Run each operation on the calling thread alone (``torch.set_num_threads(1)``), then restore."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class TaskThreads:
    """Computes the meta-gradients of a meta-batch's tasks on ``workers`` threads."""

    def __init__(self, workers: int):
        if workers < 1:
            raise ValueError(f"need at least one worker thread, got {workers}")
        self.workers = workers
        self._replicas: list[MetaLearner] = []

    def _synced_replicas(self, learner: MetaLearner) -> list[MetaLearner]:
        if not self._replicas:
            self._replicas = [learner.replica() for _ in range(self.workers)]
        with torch.no_grad():
            for replica in self._replicas:
                for mine, theirs in zip(replica.meta_parameters(), learner.meta_parameters(), strict=True):
                    mine.copy_(theirs)
                replica.inner, replica.groups, replica.schedule = learner.inner, learner.groups, learner.schedule
        return self._replicas

    def meta_gradients(self, learner: MetaLearner, tasks: list[Task], gens: list[torch.Generator]) -> list[TaskResult]:
        """Each task's (meta-gradients, outer loss), in the order of ``tasks``; task i draws its
        random numbers from ``gens[i]``."""
        replicas = self._synced_replicas(learner)
        results: list[TaskResult | None] = [None] * len(tasks)

        def work(w: int) -> None:
            for i in range(w, len(tasks), len(replicas)):
                results[i] = replicas[w].meta_gradients(tasks[i], gens[i])

        with single_threaded_ops(), ThreadPoolExecutor(len(replicas)) as pool:
            for future in [pool.submit(work, w) for w in range(min(len(replicas), len(tasks)))]:
                future.result()  # re-raises a worker's exception here
        return results  # type: ignore[return-value]
