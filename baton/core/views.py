from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django.views.static import serve

from baton.org.services import user_set_language


@login_required
def home(request):
    return render(request, "core/home.html", {})


@require_POST
def set_language(request):
    lang = request.POST.get("language", "")
    nxt = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        nxt = "/"
    response = HttpResponseRedirect(nxt)
    if request.user.is_authenticated:
        user_set_language(user=request.user, language=lang, actor=request.user)
    from django.conf import settings

    if lang in dict(settings.LANGUAGES):
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, lang, max_age=365 * 24 * 3600, samesite="Lax")
    return response


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


@login_required
def media(request, path, document_root=None):
    return serve(request, path, document_root=document_root)
