"""The REST API at /api/: one NinjaAPI, each app adds its router."""

from ninja import NinjaAPI

api = NinjaAPI(title="Baton API", version="1", urls_namespace="api")
