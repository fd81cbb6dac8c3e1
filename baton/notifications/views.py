from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from baton.notifications import services
from baton.notifications.models import Notification


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
