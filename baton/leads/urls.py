from django.urls import path

from baton.leads import views

app_name = "leads"
urlpatterns = [
    path("", views.LeadListView.as_view(), name="list"),
    path("add/", views.LeadEditView.as_view(), name="create"),
    path("<int:pk>/", views.LeadDetailView.as_view(), name="detail"),
    path("<int:pk>/edit/", views.LeadEditView.as_view(), name="edit"),
    path("<int:pk>/delete/", views.LeadDeleteView.as_view(), name="delete"),
    path("<int:pk>/convert/", views.LeadConvertView.as_view(), name="convert"),
]
