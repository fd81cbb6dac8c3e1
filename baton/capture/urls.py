from django.urls import path

from baton.capture import views

app_name = "capture"
urlpatterns = [
    path("review/", views.review, name="review"),
    path("review/<int:pk>/merge/", views.review_merge, name="review_merge"),
    path("review/<int:pk>/dismiss/", views.review_dismiss, name="review_dismiss"),
]
