from django.urls import path

from baton.activities import views

app_name = "activities"
urlpatterns = [
    path("", views.ActivityListView.as_view(), name="list"),
    path("add/", views.ActivityEditView.as_view(), name="create"),
    path("<int:pk>/", views.ActivityDetailView.as_view(), name="detail"),
    path("<int:pk>/edit/", views.ActivityEditView.as_view(), name="edit"),
    path("<int:pk>/delete/", views.ActivityDeleteView.as_view(), name="delete"),
    path("tasks/", views.TaskListView.as_view(), name="task_list"),
    path("tasks/add/", views.TaskEditView.as_view(), name="task_create"),
    path("tasks/<int:pk>/", views.TaskDetailView.as_view(), name="task_detail"),
    path("tasks/<int:pk>/edit/", views.TaskEditView.as_view(), name="task_edit"),
    path("tasks/<int:pk>/delete/", views.TaskDeleteView.as_view(), name="task_delete"),
]
