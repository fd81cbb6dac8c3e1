"""The field PWA: the service worker at the site root (so it may control /visits/) and the web app manifest."""

import hashlib

from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

PWA_VERSION = "1"
ASSETS = ["vendor/tabler/tabler.min.css", "vendor/tabler/tabler.min.js", "vendor/alpine/alpine.min.js",
          "baton/baton.css", "pwa/outbox.js", "pwa/icon-192.png", "django_htmx/htmx-2.min.js"]


def _pages() -> list[str]:
    return [reverse("visits:new"), reverse("visits:log")]


def _assets() -> list[str]:
    out = []
    for name in ASSETS:
        try:
            out.append(static(name))
        except ValueError:  # not collected (a manifest storage without this file)
            continue
    return out


@require_GET
def service_worker(request):
    pages, assets = _pages(), _assets()
    version = hashlib.sha256("|".join([PWA_VERSION, *pages, *assets]).encode()).hexdigest()[:12]
    body = render_to_string("visits/sw.js", {"version": version, "pages": pages, "assets": assets})
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def manifest(request):
    return JsonResponse({
        "name": _("Baton field work"), "short_name": "Baton", "start_url": reverse("visits:new"),
        "scope": "/", "display": "standalone", "background_color": "#ffffff", "theme_color": "#206bc4",
        "icons": [{"src": static("pwa/icon-192.png"), "sizes": "192x192", "type": "image/png"},
                  {"src": static("pwa/icon-512.png"), "sizes": "512x512", "type": "image/png"}],
    }, content_type="application/manifest+json", json_dumps_params={"ensure_ascii": False})
