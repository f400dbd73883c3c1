"""The liquidation engine's domain core (pure, deterministic): LIQUIDATION.md beside it is the
published procedure.

- ``plan``: the target, the position to close next and the step size;
- ``waterfall``: the takeover and shortfall stages, as data;
- ``adl``: the auto-deleveraging queue and its price;
- ``prices``: bankruptcy and estimated liquidation prices;
- ``penalties``: the penalty and its nightly split;
- ``engine``: ``liquidate(inputs) -> outcome``;
- ``record``: inputs and outcome as plain values and JSON (what is stored and replayed).
"""

from hashedge.domain.liquidation.engine import NotLiquidatable, liquidate
from hashedge.domain.liquidation.record import LiquidationInputs, LiquidationOutcome
from hashedge.domain.liquidation.waterfall import SHORTFALL_STAGES, TAKEOVER_STAGES, NeedMoreCandidates

__all__ = ["NotLiquidatable", "liquidate", "LiquidationInputs", "LiquidationOutcome", "SHORTFALL_STAGES",
           "TAKEOVER_STAGES", "NeedMoreCandidates"]
