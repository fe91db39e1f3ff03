"""Closed-form (and exactly computable) queueing results.

These are the reference values that the simulator's tests and the staffing
tool compare against.  Time units are whatever the caller uses: if rates are
given per hour, every returned time is in hours and every returned count is a
time-average number of customers.

Notation
--------
``lam``   arrival rate λ
``mu``    service rate μ of one server
``c``     number of parallel servers
``a``     offered load λ/μ (in Erlangs)
``rho``   per-server utilisation λ/(cμ)
``theta`` abandonment rate θ (1/mean patience) in the Erlang A model

References
----------
* L. Kleinrock, *Queueing Systems, Vol. I: Theory*, Wiley 1975, ch. 3
  (birth-death queues: M/M/1, M/M/m, M/M/m/m).
* D. Gross, J. F. Shortle, J. M. Thompson, C. M. Harris, *Fundamentals of
  Queueing Theory*, 4th ed., Wiley 2008, ch. 2 (Markovian queues) and the
  Jackson-network chapter.
* P. J. Burke, "The output of a queuing system", *Operations Research* 4 (1956).
* J. R. Jackson, "Networks of waiting lines", *Operations Research* 5 (1957).
* O. Garnett, A. Mandelbaum, M. Reiman, "Designing a call center with
  impatient customers", *Manufacturing & Service Operations Management* 4(3)
  (2002) -- the M/M/c+M ("Erlang A") model.

Modules
-------
``erlang``      Erlang B, Erlang C, M/M/c and M/M/1
``networks``    tandem lines and open Jackson networks of M/M/c stations
``impatience``  Erlang A (M/M/c+M)
``sizing``      staffing searches (smallest c meeting a target)

Every public name is re-exported here: ``from sim.analytic import mmc``.
"""

from __future__ import annotations

from sim.analytic.erlang import MMCResult, erlang_b, erlang_c, mm1, mmc, mmc_wq_quantile
from sim.analytic.impatience import ErlangAResult, erlang_a
from sim.analytic.networks import JacksonResult, TandemResult, jackson, tandem_mmc
from sim.analytic.sizing import min_servers_mmc, staffing_for_wait

__all__ = [
    "ErlangAResult",
    "JacksonResult",
    "MMCResult",
    "TandemResult",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "jackson",
    "min_servers_mmc",
    "mm1",
    "mmc",
    "mmc_wq_quantile",
    "staffing_for_wait",
    "tandem_mmc",
]
