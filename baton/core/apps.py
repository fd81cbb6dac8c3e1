from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "baton.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self):
        from baton.core import config_cache

        config_cache.connect()
        _psycopg_statement_cache()


def _psycopg_statement_cache():
    """psycopg converts a statement's `%s` placeholders to `$n` on every execution unless the statement has at
    most 50 parameters and 4 kB, a limit meant for the ORM's one-off bulk INSERTs. The express intake's
    statement (the lead, its tags, evaluation, assignment and audit rows: about 85 parameters) repeats with a
    few shapes, and converting it cost 0.17 ms per lead. The cache stays an LRU of 128 statements. The limits
    are module attributes of psycopg's (3.1–3.3): a version without them is left as it is."""
    try:
        from psycopg import _queries
    except ImportError:  # SQLite-only installs
        return
    for name, at_least in (("MAX_CACHED_STATEMENT_PARAMS", 400), ("MAX_CACHED_STATEMENT_LENGTH", 16384)):
        if isinstance(getattr(_queries, name, None), int):
            setattr(_queries, name, max(getattr(_queries, name), at_least))
