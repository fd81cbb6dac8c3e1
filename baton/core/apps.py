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
    few shapes, and converting it cost 0.17 ms per lead. The cache stays an LRU of 128 statements."""
    try:
        from psycopg import _queries
    except ImportError:  # SQLite-only installs
        return
    _queries.MAX_CACHED_STATEMENT_PARAMS = max(_queries.MAX_CACHED_STATEMENT_PARAMS, 400)
    _queries.MAX_CACHED_STATEMENT_LENGTH = max(_queries.MAX_CACHED_STATEMENT_LENGTH, 16384)
