from django.urls import path

from baton.scripts import views

app_name = "scripts"
urlpatterns = [
    path("panel/", views.panel, name="panel"),
    path("stats/", views.stats, name="stats"),
    path("windows/", views.windows, name="windows"),
    path("settings/", views.settings_list, name="settings"),
    path("settings/new/", views.settings_pack, name="settings_new"),
    path("settings/<int:pk>/", views.settings_pack, name="settings_pack"),
    path("settings/<int:pk>/scripts/", views.settings_script, name="settings_script_new"),
    path("settings/<int:pk>/scripts/<int:script_pk>/", views.settings_script, name="settings_script"),
    path("settings/<int:pk>/scripts/<int:script_pk>/move/", views.settings_move, name="settings_move"),
    path("settings/<int:pk>/scripts/<int:script_pk>/delete/", views.settings_script_delete,
         name="settings_script_delete"),
]
