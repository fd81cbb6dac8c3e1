"""Settings of the bench's bare endpoint: Baton's settings (same middleware, database, workers) with a
URLconf holding only `POST /api/bare-leads`. Used by bench/intake_bench.py; never by the product."""

from baton.config.settings import *  # noqa: F401,F403

ROOT_URLCONF = "bench.bare_urls"
