from django.urls import path

from baton.opportunities import views

app_name = "opportunities"
urlpatterns = [
    path("", views.OpportunityListView.as_view(), name="list"),
    path("add/", views.OpportunityEditView.as_view(), name="create"),
    path("<int:pk>/", views.OpportunityDetailView.as_view(), name="detail"),
    path("<int:pk>/edit/", views.OpportunityEditView.as_view(), name="edit"),
    path("<int:pk>/delete/", views.OpportunityDeleteView.as_view(), name="delete"),
    path("board/", views.board_default, name="board_default"),
    path("board/<int:pipeline_id>/", views.board, name="board"),
    path("<int:pk>/move/", views.move, name="move"),
    path("<int:pk>/evidence/", views.evidence_upload, name="evidence"),
    path("<int:pk>/checklist/", views.checklist, name="checklist"),
    path("reviews/<int:pk>/<str:decision>/", views.skip_review_decide, name="skip_review"),
    path("settings/pipelines/", views.pipeline_settings, name="pipeline_settings"),
    path("settings/pipelines/<int:pk>/", views.pipeline_settings_edit, name="pipeline_settings_edit"),
    path("settings/pipelines/<int:pk>/reorder/", views.stage_reorder, name="stage_reorder"),
    path("settings/stages/<int:pk>/", views.stage_settings, name="stage_settings"),
    path("settings/stages/<int:pk>/move/<str:direction>/", views.stage_shift, name="stage_shift"),
    path("settings/stages/<int:pk>/delete/", views.stage_delete, name="stage_delete"),
    path("settings/stages/<int:stage_pk>/requirements/add/", views.requirement_edit, name="requirement_create"),
    path("settings/requirements/<int:pk>/", views.requirement_edit, name="requirement_edit"),
    path("settings/requirements/<int:pk>/delete/", views.requirement_delete, name="requirement_delete"),
]
