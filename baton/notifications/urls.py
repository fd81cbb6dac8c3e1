from django.urls import path

from . import views

app_name = "notifications"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("read/", views.mark_read, name="mark_read"),
    path("settings/channels/", views.channel_list, name="channels"),
    path("settings/channels/new/", views.channel_edit, name="channel_create"),
    path("settings/channels/<int:pk>/", views.channel_edit, name="channel_edit"),
    path("settings/channels/<int:pk>/test/", views.channel_test, name="channel_test"),
    path("settings/dead-letters/", views.dead_letters, name="dead_letters"),
    path("settings/dead-letters/<int:pk>/retry/", views.dead_letter_retry, name="dead_letter_retry"),
    path("settings/dead-letters/retry-all/", views.dead_letter_retry_all, name="dead_letter_retry_all"),
]
