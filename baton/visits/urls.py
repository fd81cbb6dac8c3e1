from django.urls import path

from baton.scripts import views as scripts_views
from baton.visits import views

app_name = "visits"
urlpatterns = [
    path("", views.visit_overview, name="overview"),
    path("new/", views.visit_new, name="new"),
    path("log/", scripts_views.quick_log, name="log"),
]
