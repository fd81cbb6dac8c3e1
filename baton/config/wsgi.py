import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "baton.config.settings")
application = get_wsgi_application()

# Load every view now (the URLconf imports the apps' views and the API), then move everything loaded so far
# out of the garbage collector's reach: it lives as long as the process, and each full collection walked it
# all (~100 ms of a busy server's time every few hundred requests, landing on whichever request was running).
from django.urls import get_resolver  # noqa: E402

_views = get_resolver().url_patterns
gc.freeze()
