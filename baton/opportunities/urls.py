from django.urls import path

from baton.opportunities import views

app_name = "opportunities"
urlpatterns = [
    path("", views.OpportunityListView.as_view(), name="list"),
    path("add/", views.OpportunityEditView.as_view(), name="create"),
    path("<int:pk>/", views.OpportunityDetailView.as_view(), name="detail"),
    path("<int:pk>/edit/", views.OpportunityEditView.as_view(), name="edit"),
    path("<int:pk>/delete/", views.OpportunityDeleteView.as_view(), name="delete"),
]
