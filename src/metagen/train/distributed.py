"""Meta-batches split across processes started with ``torchrun``.

Every process samples the same meta-batch (same seed, same RNG stream) and computes the
meta-gradients of its share of the tasks (task i goes to rank i mod world size); the sums are
all-reduced and divided by the meta-batch size, as DistributedDataParallel does for gradients.
Each task has its own random generator, seeded from the run's stream, so the result does not
depend on how many processes share the work. gloo on CPU, nccl on GPU.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """This process's place among the processes of a run (rank 0 of 1 when not distributed)."""

    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def share(self, n: int) -> list[int]:
        """Indices of the tasks of a meta-batch of ``n`` that this process computes."""
        return list(range(self.rank, n, self.size))

    def agree(self, flag: bool) -> bool:
        """True on every process when ``flag`` is true on any (so all stop at the same step)."""
        if self.size == 1:
            return flag
        t = torch.tensor([int(flag)], dtype=torch.int64)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()


def init_world(device: str) -> tuple[World, str]:
    """Join the process group that ``torchrun`` describes in the environment, if any.

    Returns the world and the device this process should use (``cuda:LOCAL_RANK`` for CUDA).
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World(), device
    if not dist.is_initialized():
        # torch's compiler stack, first imported after the group exists (building an optimizer
        # imports it), keeps the group alive past destroy_process_group (torch 2.13), and its
        # threads then race the interpreter's shutdown (see joined_world). Imported first, it does not.
        import torch._dynamo  # noqa: F401

        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    if device.startswith("cuda"):
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
        torch.cuda.set_device(device)
    return World(dist.get_rank(), dist.get_world_size()), device


@contextmanager
def joined_world(device: str) -> Iterator[tuple[World, str]]:
    """``init_world`` for the length of a ``with`` block, leaving the process group when the block
    ends without an error if the block joined it. A gloo group left for the interpreter's shutdown
    to tear down can abort a process after its work is done ("terminate called without an active
    exception"): its worker thread frees the last collective's tensors, which needs the
    interpreter, while it shuts down."""
    joined_before = dist.is_initialized()
    world, device = init_world(device)
    yield world, device
    # on success only: after an error the other processes may still be in a collective, which
    # leaving the group could wait on (torchtitan#1342); torchrun ends them then
    if world.size > 1 and not joined_before:
        dist.destroy_process_group()


def all_reduce_sum(tensors: list[torch.Tensor], world: World) -> list[torch.Tensor]:
    """Sum ``tensors`` over all processes (one flat all-reduce)."""
    if world.size == 1:
        return tensors
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat)
    out, offset = [], 0
    for t in tensors:
        out.append(flat[offset : offset + t.numel()].view(t.shape).to(t.dtype))
        offset += t.numel()
    return out
