from django.urls import path

from baton.conditions import views

app_name = "conditions"
urlpatterns = [
    path("", views.field_list, name="list"),
    path("new/", views.field_edit, name="create"),
    path("<int:pk>/", views.field_edit, name="edit"),
    path("<int:pk>/type/", views.field_change_type, name="change_type"),
]
