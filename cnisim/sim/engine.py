"""Where the fast engine's names were first imported from; they live elsewhere now.

The first fast engine (numpy structure-of-arrays) is gone: :func:`run_engine` and
:class:`Engine` are the compiled engine (:mod:`cnisim.sim.fastengine`), ``METRICS`` and ``OPS``
the tick contract's (:mod:`cnisim.sim.contract`), and ``EngineResult`` the result schema both
engines share (:class:`cnisim.sim.records.SimResult`). Kept so that notebooks importing them
from here keep working.
"""

from __future__ import annotations

from cnisim.sim.contract import METRICS, OPS
from cnisim.sim.fastengine import Engine, run_engine
from cnisim.sim.records import SimResult as EngineResult

__all__ = ["METRICS", "OPS", "Engine", "EngineResult", "run_engine"]
