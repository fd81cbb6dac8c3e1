"""The condition language (JSON trees compiled to Q and to predicates) and custom fields.

Public functions live in `baton.conditions.compiler` and are re-exported here lazily:
validate, validate_or_raise, to_q, to_predicate, explain.
"""

_PUBLIC = {"validate", "validate_or_raise", "to_q", "to_predicate", "explain"}


def __getattr__(name):
    if name in _PUBLIC:
        from baton.conditions import compiler

        return getattr(compiler, name)
    raise AttributeError(name)
