from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from baton.core.errors import DomainError
from baton.core.views_generic import apply_domain_error
from baton.notifications import selectors, services
from baton.notifications.forms import ChannelForm
from baton.notifications.models import Channel, Notification, OutboxMessage


@login_required
def inbox(request):
    items = Notification.objects.filter(recipient=request.user).order_by("-created_at", "-id")[:200]
    return render(request, "notifications/inbox.html", {"items": items,
                                                        "unread": services.unread_count(request.user)})


@login_required
@require_POST
def mark_read(request):
    ids = [int(i) for i in request.POST.getlist("id") if i.isdigit()] or None
    services.notification_mark_read(user=request.user, ids=ids)
    return redirect("notifications:inbox")


# --- Settings: channels and dead letters (ops and superusers) ------------------------------------------------


def _admin(request):
    if not (request.user.is_superuser or request.user.has_role("ops")):
        raise PermissionDenied()


def _channel(pk):
    channel = Channel.objects.filter(pk=pk).first()
    if channel is None:
        raise Http404()
    return channel


@login_required
def channel_list(request):
    _admin(request)
    return render(request, "notifications/channel_list.html", {
        "channels": selectors.channel_list(),
        "dead_total": OutboxMessage.objects.filter(status=OutboxMessage.Status.DEAD).count(),
    })


@login_required
def channel_edit(request, pk=None):
    _admin(request)
    channel = _channel(pk) if pk is not None else None
    if request.method == "POST":
        form = ChannelForm(request.POST, instance=channel)
        if form.is_valid():
            try:
                if channel is None:
                    channel = services.channel_create(actor=request.user, **form.service_data())
                    messages.success(request, _("%(name)s was created.") % {"name": channel})
                else:
                    services.channel_update(channel=channel, actor=request.user, **form.service_data(channel))
                    messages.success(request, _("%(name)s was saved.") % {"name": channel})
            except DomainError as exc:
                apply_domain_error(form, exc)
            else:
                return HttpResponseRedirect(reverse("notifications:channel_edit", args=[channel.pk]))
    else:
        form = ChannelForm(instance=channel, initial=None if channel else {"active": True})
    return render(request, "notifications/channel_form.html", {
        "form": form, "channel": channel,
        "title": channel.name if channel else _("New notification channel"),
    })


@login_required
@require_POST
def channel_test(request, pk):
    _admin(request)
    channel = _channel(pk)
    to = [a.strip() for a in request.POST.get("to", "").split(",") if a.strip()]
    if channel.kind == Channel.Kind.EMAIL and not to and request.user.email:
        to = [request.user.email]
    outcome = services.channel_test(channel=channel, to=to)
    if outcome.ok:
        messages.success(request, _("The test message was sent to %(name)s.") % {"name": channel})
    else:
        messages.error(request, _("%(name)s did not accept the test message: %(error)s") % {
            "name": channel, "error": outcome.error})
    return HttpResponseRedirect(request.POST.get("back") == "list" and reverse("notifications:channels")
                                or reverse("notifications:channel_edit", args=[channel.pk]))


@login_required
def dead_letters(request):
    _admin(request)
    channel = request.GET.get("channel")
    channel = int(channel) if channel and channel.isdigit() else None
    page = Paginator(selectors.dead_letters(channel=channel), 50).get_page(request.GET.get("page"))
    return render(request, "notifications/dead_letters.html", {
        "page": page, "rows": page.object_list, "channels": Channel.objects.order_by("name"), "channel": channel,
    })


@login_required
@require_POST
def dead_letter_retry(request, pk):
    _admin(request)
    message = OutboxMessage.objects.filter(pk=pk, status=OutboxMessage.Status.DEAD).select_related("channel").first()
    if message is None:
        raise Http404()
    try:
        services.outbox_retry_now(message=message, actor=request.user)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("The message was queued again."))
    return HttpResponseRedirect(reverse("notifications:dead_letters"))


@login_required
@require_POST
def dead_letter_retry_all(request):
    _admin(request)
    raw = request.POST.get("channel", "")
    channel = Channel.objects.filter(pk=int(raw)).first() if raw.isdigit() else None
    n = services.outbox_retry_all(actor=request.user, channel=channel)
    messages.success(request, _("%(n)s messages were queued again.") % {"n": n})
    return HttpResponseRedirect(reverse("notifications:dead_letters"))
