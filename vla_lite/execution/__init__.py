"""Action-chunk executors: which action the loop sends at each step, given the chunks the policy returned.

    executor = make_executor("replan", bundle.manifest.chunk.length, bundle.manifest.chunk.replan_every)
    if executor.needs_inference(step): executor.on_request(step); ...; executor.submit(chunk, obs_step)
    action = executor.next_action(step)  # None: hold
"""

from .base import ActionQueue, Executor, ExecutorCounters
from .ensemble import TemporalEnsemble
from .factory import KINDS, make_executor
from .interpolate import Interpolated
from .refill import RefillAtThreshold
from .replan import ReplanEvery

__all__ = ["ActionQueue", "Executor", "ExecutorCounters", "Interpolated", "KINDS", "RefillAtThreshold",
           "ReplanEvery", "TemporalEnsemble", "make_executor"]
