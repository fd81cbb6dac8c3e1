from django.urls import path

from baton.assignment import views

app_name = "assignment"
urlpatterns = [
    path("", views.pool_list, name="list"),
    path("new/", views.pool_edit, name="create"),
    path("board/", views.board, name="board"),
    path("absences/", views.absences, name="absences"),
    path("<int:pk>/", views.pool_edit, name="edit"),
    path("<int:pk>/delete/", views.pool_delete, name="delete"),
    path("<int:pk>/members/", views.member_add, name="member_add"),
    path("members/<int:pk>/", views.member_update, name="member_update"),
    path("reassign/<int:lead_pk>/", views.reassign, name="reassign"),
]
