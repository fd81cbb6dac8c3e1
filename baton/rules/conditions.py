"""The one place the rules and assignment apps reach the condition language (`baton.conditions.compiler`).

Empty conditions (`{}`, None, `{"all": []}`) mean "always" and never reach the compiler. Validation errors
are reported under `condition.<path>` so a form or an API answer can point at the wrong part.
"""

from django.db.models import Q

from baton.conditions import compiler
from baton.core.errors import ValidationFailed


def is_always(condition) -> bool:
    if not condition:
        return True
    return set(condition) == {"all"} and not condition["all"]


def validate(model, condition) -> list[tuple[str, str]]:
    if condition is None:
        return []
    return list(compiler.validate(model, condition))


def validate_or_raise(model, condition, *, field="condition") -> None:
    errors = validate(model, condition)
    if errors:
        raise ValidationFailed(errors=[(f"{field}.{path}" if path else field, msg) for path, msg in errors])


def to_q(model, condition) -> Q:
    return Q() if is_always(condition) else compiler.to_q(model, condition)


def to_predicate(model, condition):
    if is_always(condition):
        return lambda obj: True
    return compiler.to_predicate(model, condition)
