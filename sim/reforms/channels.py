"""Channel reforms: the online channel (``online``, 一网通办) and help-and-proxy agents
(``proxy``, 帮办代办), which commute through the classes' online and proxy shares."""

from __future__ import annotations

from collections.abc import Sequence

from sim.errors import ReformError
from sim.model.schema import CaseClass, Pool, Scenario
from sim.reforms.catalogue import Arg, reform, select

# --------------------------------------------------------------------------- channel reforms


@reform("online", "一网通办 one-network online handling",
        Arg("share", "probability", 0.9, "share of applicants (of those not served by proxy "
            "agents) who submit online; the seed's target is 90%+"),
        Arg("items", "names", ("*",), "items that can be handled online"),
        Arg("classes", "names", ("*",), "case classes offered the online channel"),
        aliases=("一网通办", "one_network"))
def online(s: Scenario, share: float, items: Sequence[str], classes: Sequence[str]) -> None:
    """Put items online and move a share of applicants to the online channel (一网通办).

    The selected items become ``online``: an online case submits them without a visit.
    Online cases arrive at any hour (not only in opening hours), make no visit for an
    online item, and go straight to the item's reviewing station (the back office),
    which works them in its own hours. The selected classes' ``online_share`` becomes
    ``share x (1 - proxy_share)``: the share of self-filing applicants who go online, so
    the reform commutes with ``proxy``.
    """
    for n in select("item", s.items, items):
        s.items[n].online = True
    for c in select("class", s.classes, classes):
        cls = s.classes[c]
        cls.online_share = share * (1.0 - cls.proxy_share)


@reform("proxy", "帮办代办 help-and-proxy agents",
        Arg("windows", "int", 32, "agents (help-and-proxy windows); the seed: 32", lo=1),
        Arg("caseload", "int", 28, "cases one agent follows at a time (SEED-derived: 896 key "
            "projects served by 32 windows in H1 = 28 per window)", lo=1),
        Arg("deficiency_factor", "probability", 0.3, "multiplies the per-material "
            "deficiency probability of what an agent submits (ASSUMPTION: agents catch "
            "most gaps before submitting)"),
        Arg("share", "probability", 1.0, "share of the selected classes' cases the agents "
            "take on"),
        Arg("classes", "names", ("*",), "case classes served (key projects, in the seed)"),
        Arg("pool", "name", "help_proxy", "name of the agent pool (created or updated)"),
        aliases=("帮办代办", "help_proxy"))
def proxy(s: Scenario, windows: int, caseload: int, deficiency_factor: float, share: float,
          classes: Sequence[str], pool: str) -> None:
    """Open a pool of help-and-proxy agents who prepare and submit cases (帮办代办).

    A pool of ``windows`` agents, each following up to ``caseload`` cases at once. A
    proxy case first waits for a free agent slot (when every agent is full) and holds it
    until the case ends; the agent prepares its submissions, so they are deficient less
    often (``deficiency_factor`` multiplies the per-material probability) and the
    applicant makes no visits. The selected classes send ``share`` of their cases to the
    agents; their online share keeps its proportion of the self-filed rest.
    """
    if pool in s.stations:
        raise ReformError(f"pool '{pool}' would share a name with a station")
    s.pools[pool] = Pool(agents=windows, caseload=caseload,
                         deficiency_factor=deficiency_factor,
                         note=(s.pools[pool].note if pool in s.pools else
                               "help-and-proxy agents (帮办代办)"))
    for c in select("class", s.classes, classes):
        cls = s.classes[c]
        rest = 1.0 - cls.proxy_share
        online_of_rest = cls.online_share / rest if rest > 0 else 0.0
        s.classes[c] = CaseClass.model_validate({
            **cls.model_dump(), "proxy_share": share, "agent_pool": pool,
            "online_share": min(online_of_rest, 1.0) * (1.0 - share)})
