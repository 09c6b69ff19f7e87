"""Settings for bench/verify_load.py: the real settings, plus a bench-only URL conf.

Everything else (middleware, authentication, throttling, database via DATABASE_URL) is the
production configuration, so the figures describe what an officer's phone would see.
"""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.verify_site.urls"
