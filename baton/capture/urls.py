from django.urls import path

from baton.capture import views

app_name = "capture"
urlpatterns = [
    path("review/", views.review, name="review"),
    path("review/<int:pk>/merge/", views.review_merge, name="review_merge"),
    path("review/<int:pk>/dismiss/", views.review_dismiss, name="review_dismiss"),
    path("settings/dedupe/", views.dedupe_list, name="dedupe_list"),
    path("settings/dedupe/new/", views.dedupe_edit, name="dedupe_create"),
    path("settings/dedupe/<int:pk>/", views.dedupe_edit, name="dedupe_edit"),
    path("settings/dedupe/<int:pk>/delete/", views.dedupe_delete, name="dedupe_delete"),
    path("settings/intake/", views.intake_list, name="intake_list"),
    path("settings/intake/new/", views.intake_edit, name="intake_create"),
    path("settings/intake/<int:pk>/", views.intake_edit, name="intake_edit"),
    path("settings/intake/<int:pk>/delete/", views.intake_delete, name="intake_delete"),
]
