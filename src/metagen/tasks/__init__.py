"""Tasks (episodes) and the samplers that draw them."""

from metagen.tasks.sampler import EpisodeSampler, generation_task
from metagen.tasks.task import Task, stack_tasks

__all__ = ["EpisodeSampler", "Task", "generation_task", "stack_tasks"]
