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
]
