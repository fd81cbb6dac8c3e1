from django.urls import path

from baton.scripts import views

app_name = "scripts"
urlpatterns = [
    path("panel/", views.panel, name="panel"),
    path("stats/", views.stats, name="stats"),
    path("windows/", views.windows, name="windows"),
]
