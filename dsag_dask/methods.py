"""The methods (DESIGN.md §3): which results each waits for and which it keeps."""
from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Method:
    """How a method treats the results it receives.

    ``uses_cache``: aggregate through the DSAG gradient cache (SAG, DSAG) rather
    than summing this iteration's fresh results (GD, SGD). ``keeps_stale``: late
    results from earlier iterates enter the cache when fresher than what they
    replace (DSAG); otherwise they are dropped. ``waits_for_all``: w is forced to
    N and p to 1 (GD). ``load_balanced``: the load balancer re-sizes sub-partitions.
    """

    name: str
    uses_cache: bool
    keeps_stale: bool
    waits_for_all: bool = False
    load_balanced: bool = False

    @property
    def base(self) -> str:
        """The method's name without a load-balancing suffix (``dsag`` for ``dsag-lb``)."""
        return self.name.removesuffix("-lb")


_BASE = [
    Method("gd", uses_cache=False, keeps_stale=False, waits_for_all=True),
    Method("sgd", uses_cache=False, keeps_stale=False),
    Method("sag", uses_cache=True, keeps_stale=False),
    Method("dsag", uses_cache=True, keeps_stale=True),
]
# SAG-LB keeps SAG's rule (stale results dropped) on the interval cache, as the paper's
# SAG-LB uses the DSAG update with stale results discarded; GD has no load-balanced form
# because it always processes whole partitions (p = 1).
METHODS: dict[str, Method] = {
    **{m.name: m for m in _BASE},
    **{f"{m.name}-lb": replace(m, name=f"{m.name}-lb", load_balanced=True)
       for m in _BASE if not m.waits_for_all},
}


def get_method(name: str) -> Method:
    """Look a method up by name (case-insensitive), with a clear error listing the choices."""
    key = name.lower().replace("_", "-")
    if key not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(sorted(METHODS))}")
    return METHODS[key]
