from django.urls import path

from baton.reports import views

app_name = "reports"
urlpatterns = [
    path("pivot/", views.pivot_page, name="pivot"),
    path("dashboards/", views.dashboard_index, name="dashboards"),
    path("dashboards/<slug:key>/", views.dashboard_page, name="dashboard"),
    path("anomalies/", views.anomalies_page, name="anomalies"),
    path("anomalies/evaluate/", views.anomalies_evaluate, name="anomalies_evaluate"),
    path("anomalies/rules/<int:pk>/", views.anomaly_rule_edit, name="anomaly_rule_edit"),
    path("anomalies/lights/<int:pk>/rows/", views.anomaly_rows, name="anomaly_rows"),
    path("held/", views.held_page, name="held"),
    path("held/<int:pk>/", views.held_detail, name="held_detail"),
    path("exports/<int:pk>/", views.export_job_status, name="export_job"),
    path("exports/<int:pk>/download/", views.export_job_download, name="export_download"),
]
