"""Executor CPU time of the Spark stages a piece of work ran, from Spark's own task metrics.

Wall time on a shared 2-core VM moves by about ±10% between identical runs (garbage collection,
JIT, the hypervisor). The CPU time Spark's task threads spent (``executorCpuTime``, summed over
the stages' tasks) counts only the tasks' own work, a second view that leaves out waiting and
driver-side planning; it still moves with JIT and cache state (a sub-second case's two arms
running the same plan differed by 16% in one measurement). It also leaves out Python workers, so
it is reported for the native transforms only, next to wall time, never instead of it.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import SparkSession


class ExecutorCpu:
    """Reads the live status store that every SparkContext keeps (the UI need not be on)."""

    def __init__(self, spark: SparkSession) -> None:
        context = spark.sparkContext
        self._gateway = context._gateway  # noqa: SLF001 - no public API for task metrics
        self._scala_context = context._jsc.sc()  # noqa: SLF001

    def _stages(self) -> list:
        """Every retained stage's data, after the listener bus has delivered all events."""
        self._scala_context.listenerBus().waitUntilEmpty()
        gateway = self._gateway
        seq = self._scala_context.statusStore().stageList(
            None, False, False, gateway.new_array(gateway.jvm.double, 0), gateway.jvm.java.util.ArrayList()
        )
        return [seq.apply(i) for i in range(seq.size())]

    def last_stage(self) -> int:
        """The highest stage id so far (-1 before any); stage ids only grow."""
        return max((stage.stageId() for stage in self._stages()), default=-1)

    def seconds_since(self, last_stage: int) -> float:
        """Executor CPU seconds of every stage attempt after ``last_stage``."""
        return sum(stage.executorCpuTime() for stage in self._stages() if stage.stageId() > last_stage) / 1e9

    def measure(self, fn: Callable[[], object]) -> float:
        """Executor CPU seconds that ``fn()`` used."""
        mark = self.last_stage()
        fn()
        return self.seconds_since(mark)
