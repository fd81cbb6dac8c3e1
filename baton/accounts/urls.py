from django.urls import path

from baton.accounts import views

app_name = "accounts"
urlpatterns = [
    path("", views.AccountListView.as_view(), name="list"),
    path("add/", views.AccountEditView.as_view(), name="create"),
    path("<int:pk>/", views.AccountDetailView.as_view(), name="detail"),
    path("<int:pk>/edit/", views.AccountEditView.as_view(), name="edit"),
    path("<int:pk>/delete/", views.AccountDeleteView.as_view(), name="delete"),
    path("contacts/", views.ContactListView.as_view(), name="contact_list"),
    path("contacts/add/", views.ContactEditView.as_view(), name="contact_create"),
    path("contacts/<int:pk>/", views.ContactDetailView.as_view(), name="contact_detail"),
    path("contacts/<int:pk>/edit/", views.ContactEditView.as_view(), name="contact_edit"),
    path("contacts/<int:pk>/delete/", views.ContactDeleteView.as_view(), name="contact_delete"),
]
