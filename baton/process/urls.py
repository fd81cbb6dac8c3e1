from django.urls import path

from baton.process import views

app_name = "process"
urlpatterns = [
    path("compliance/", views.compliance, name="compliance"),
    path("reps/<int:pk>/radar/", views.rep_radar, name="rep_radar"),
    path("teams/<int:pk>/radar/", views.team_radar, name="team_radar"),
    path("team/", views.my_team, name="my_team"),
    path("actions/<int:pk>/", views.action_detail, name="action"),
    path("actions/<int:pk>/evidence/", views.action_evidence, name="action_evidence"),
    path("deals/<int:pk>/signal/", views.signal, name="signal"),
    path("settings/", views.settings_index, name="settings"),
    path("settings/templates/new/", views.template_edit, name="template_create"),
    path("settings/templates/<int:pk>/", views.template_edit, name="template_edit"),
    path("settings/risks/<int:pk>/", views.risk_edit, name="risk_edit"),
    path("settings/risks/<int:pk>/delete/", views.risk_delete, name="risk_delete"),
]
