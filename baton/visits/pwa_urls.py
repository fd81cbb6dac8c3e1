"""Root-level URLs of the field PWA (a service worker controls only pages under its own path)."""

from django.urls import path

from baton.visits import pwa

urlpatterns = [
    path("sw.js", pwa.service_worker, name="service_worker"),
    path("manifest.webmanifest", pwa.manifest, name="pwa_manifest"),
]
