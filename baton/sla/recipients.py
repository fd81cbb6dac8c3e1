"""Who is told at an escalation step.

A step may name its recipients: `{"at": 100, "actions": ["notify_owner", "notify_channel"], "recipients":
{"owner": true, "manager": true, "roles": ["ops"], "users": [12], "channels": [3]}}`. Then the step's notify
actions (notify_owner / notify_manager / notify_ops / notify_channel) together tell exactly these: the owner,
the owner's manager, every active holder of the roles and the named users in the app (and over the listed
e-mail channels), and the listed group bots — instead of every channel in the item's team / region scope. The
other actions (return_to_pool, manager_task) run as before. A step without `recipients` works as it always did.
"""

from django.utils.translation import gettext as _

NOTIFY_ACTIONS = ("notify_owner", "notify_manager", "notify_ops", "notify_channel")
KEYS = {"owner", "manager", "roles", "users", "channels"}


def _ids(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)


def validate_steps(steps) -> list[str]:
    """Problems with the steps' recipients (and notify_channel steps without a channel), as messages."""
    from baton.notifications.models import Channel
    from baton.org.models import Role, User

    problems = []
    for step in steps or []:
        at = step.get("at")
        actions = step.get("actions") or []
        rec = step.get("recipients")
        if rec is None:
            if "notify_channel" in actions:
                problems.append(_("Step at %(at)s%%: “notify a channel” needs the channels in its recipients.")
                                % {"at": at})
            continue
        if not isinstance(rec, dict) or not set(rec) <= KEYS:
            problems.append(_("Step at %(at)s%%: recipients may only name owner, manager, roles, users and "
                              "channels.") % {"at": at})
            continue
        if not all(isinstance(rec.get(k, False), bool) for k in ("owner", "manager")) \
                or not isinstance(rec.get("roles", []), list) or not _ids(rec.get("users", [])) \
                or not _ids(rec.get("channels", [])):
            problems.append(_("Step at %(at)s%%: the recipients are malformed.") % {"at": at})
            continue
        if not any(a in NOTIFY_ACTIONS for a in actions):
            problems.append(_("Step at %(at)s%%: recipients need a notify action.") % {"at": at})
        roles = set(rec.get("roles", []))
        unknown = roles - set(Role.objects.filter(code__in=roles).values_list("code", flat=True))
        if unknown:
            problems.append(_("Step at %(at)s%%: unknown roles: %(r)s.") % {"at": at, "r": ", ".join(sorted(unknown))})
        users = set(rec.get("users", []))
        if len(users) != User.objects.filter(pk__in=users, is_active=True).count():
            problems.append(_("Step at %(at)s%%: some named users do not exist or are inactive.") % {"at": at})
        channels = set(rec.get("channels", []))
        if len(channels) != Channel.objects.filter(pk__in=channels).count():
            problems.append(_("Step at %(at)s%%: some channels do not exist.") % {"at": at})
        if "notify_channel" in actions and not channels:
            problems.append(_("Step at %(at)s%%: “notify a channel” needs at least one channel.") % {"at": at})
        if not (rec.get("owner") or rec.get("manager") or roles or users or channels):
            problems.append(_("Step at %(at)s%%: choose at least one recipient.") % {"at": at})
    return problems


def step_for(policy, level: str):
    """The escalation step behind a level ("breach" = the 100 % step, "escalation_n" = the n-th later one)."""
    n = 0
    for step in sorted(policy.escalation or [], key=lambda s: s["at"]):
        if step["at"] == 100:
            name = "breach"
        else:
            n += 1
            name = f"escalation_{n}"
        if name == level:
            return step
    return None


def _people(policy, level: str, rec: dict) -> list:
    """The role holders and named users of a step (read once per policy and level in a scan)."""
    from baton.org.models import User

    cache = policy.__dict__.setdefault("_sla_recipients", {})
    if level not in cache:
        roles, users = rec.get("roles") or [], rec.get("users") or []
        people = []
        if roles:
            people += list(User.objects.filter(is_active=True, roles__code__in=roles).distinct())
        if users:
            people += list(User.objects.filter(is_active=True, pk__in=users))
        cache[level] = people
    return cache[level]


def notify_step(action: str, c, item, *, box, title: str, text: str, link: str, manager_of) -> bool:
    """Tell a step's named recipients (once per crossing: on its first notify action). False when the step
    names no recipients (the caller notifies as usual)."""
    from baton.notifications.models import Channel, OutboxMessage

    if action not in NOTIFY_ACTIONS:
        return False
    step = step_for(c.policy, c.level)
    rec = step.get("recipients") if step else None
    if rec is None:
        return False
    first = next(a for a in step["actions"] if a in NOTIFY_ACTIONS)
    if action != first:
        return True
    owner = getattr(item, "owner", None)
    people = list(_people(c.policy, c.level, rec))
    if rec.get("owner") and owner is not None:
        people.append(owner)
    if rec.get("manager"):
        people.append(manager_of(owner))
    key = f"sla:{c.pk}:{first}"
    box.notify(users=people, title=title, text=text, link=link, key=key, team=None, region_id=None,
               bots_too=False)
    emails = sorted({u.email for u in people if u is not None and u.is_active and u.email})
    wanted = set(rec.get("channels") or [])
    for channel in box.channels:  # the active channels
        if channel.pk not in wanted:
            continue
        payload = {"title": title, "text": text, "link": link}
        if channel.kind == Channel.Kind.EMAIL:
            if not emails:
                continue
            payload["to"] = emails
        box.outbox.append(OutboxMessage(channel=channel, payload=payload, dedupe_key=f"{key}:{channel.pk}"[:200],
                                        created_at=box.now, next_attempt_at=box.now))
    return True
