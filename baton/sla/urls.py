from django.urls import path

from . import views

app_name = "sla"
urlpatterns = [
    path("board/", views.board, name="board"),
    path("board/transfer/", views.transfer, name="transfer"),
    path("board/reason/", views.reason, name="reason"),
    path("reports/", views.report_runs, name="report_runs"),
    path("reports/<int:pk>/", views.report_run, name="report_run"),
    path("reports/<int:pk>/excel/", views.report_excel, name="report_excel"),
]
