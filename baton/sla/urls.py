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
    path("settings/policies/", views.policy_list, name="policies"),
    path("settings/policies/new/", views.policy_edit, name="policy_create"),
    path("settings/policies/<int:pk>/", views.policy_edit, name="policy_edit"),
    path("settings/holidays/", views.holidays, name="holidays"),
    path("settings/holidays/<int:pk>/delete/", views.holiday_delete, name="holiday_delete"),
    path("settings/reasons/", views.reason_list, name="reasons"),
    path("settings/reasons/new/", views.reason_edit, name="reason_create"),
    path("settings/reasons/<int:pk>/", views.reason_edit, name="reason_edit"),
    path("settings/schedules/", views.schedule_list, name="schedules"),
    path("settings/schedules/new/", views.schedule_edit, name="schedule_create"),
    path("settings/schedules/<int:pk>/", views.schedule_edit, name="schedule_edit"),
    path("settings/schedules/preview/", views.schedule_preview, name="schedule_preview"),
]
