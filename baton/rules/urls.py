from django.urls import path

from baton.rules import views

app_name = "rules"
urlpatterns = [
    path("", views.rule_list, name="list"),
    path("grade-bands/", views.grade_bands, name="grade_bands"),
    path("runs/<int:pk>/", views.run_progress, name="run"),
    path("<str:rule_type>/new/", views.rule_edit, name="create"),
    path("<str:rule_type>/<int:pk>/", views.rule_edit, name="edit"),
    path("<str:rule_type>/<int:pk>/delete/", views.rule_delete, name="delete"),
]
