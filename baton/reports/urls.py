from django.urls import path

from baton.reports import views

app_name = "reports"
urlpatterns = [
    path("pivot/", views.pivot_page, name="pivot"),
    path("dashboards/", views.dashboard_index, name="dashboards"),
    path("dashboards/<slug:key>/", views.dashboard_page, name="dashboard"),
]
