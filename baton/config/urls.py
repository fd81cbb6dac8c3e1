from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import include, path

from baton.config.api import api
from baton.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="auth/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("language/", core_views.set_language, name="set_language"),
    path("healthz", core_views.healthz, name="healthz"),
    path("api/", api.urls),
    path("leads/", include("baton.leads.urls")),
    path("accounts/", include("baton.accounts.urls")),
    path("opportunities/", include("baton.opportunities.urls")),
    path("activities/", include("baton.activities.urls")),
    path("capture/", include("baton.capture.urls")),
    path("rules/", include("baton.rules.urls")),
    path("pools/", include("baton.assignment.urls")),
    path("settings/custom-fields/", include("baton.conditions.urls")),
    path("notifications/", include("baton.notifications.urls")),
    path("sla/", include("baton.sla.urls")),
    path("imports/", include("baton.imports.urls")),
    path("reports/", include("baton.reports.urls")),
    path("visits/", include("baton.visits.urls")),
    path("", include("baton.visits.pwa_urls")),  # /sw.js, /manifest.webmanifest (field PWA)
    path("scripts/", include("baton.scripts.urls")),
    path("process/", include("baton.process.urls")),
    # Uploaded files are served only to signed-in users; a bigger install fronts them with its web server.
    path("media/<path:path>", core_views.media, {"document_root": settings.MEDIA_ROOT}, name="media"),
]

