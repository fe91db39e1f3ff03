"""``govsim serve``: the planner's page, a local web app for what-ifs against a baseline.

:mod:`sim.serve.variant` reads the address into a checked what-if, :mod:`sim.serve.jobs`
runs it (a job pool, progress, cancelling, the cache), :mod:`sim.serve.views` turns a
comparison into what the page shows, :mod:`sim.serve.app` is the Starlette app and its
routes, :mod:`sim.serve.texts` every word of the page in English and Chinese, and
``templates/`` the page (Jinja2). Starlette, uvicorn and Jinja2 are the ``serve`` extra.
"""
