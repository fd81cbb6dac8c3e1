"""A JSON client for API tests: a Django test client that sends a bearer token and JSON bodies."""

import json

from django.test import Client

from baton.org.services import api_token_issue


class ApiClient:
    def __init__(self, user=None, *, password="pass12345", token=None):
        self.client = Client()
        self.token = token
        if user is not None and token is None:
            _, self.token = api_token_issue(username=user.username, password=password)

    def _headers(self, extra):
        headers = dict(extra or {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return headers

    def get(self, path, params=None, headers=None):
        return self.client.get(path, params or {}, headers=self._headers(headers))

    def post(self, path, body=None, headers=None, raw=None):
        data = raw if raw is not None else json.dumps(body or {})
        return self.client.post(path, data, content_type="application/json", headers=self._headers(headers))

    def patch(self, path, body=None, headers=None, raw=None):
        data = raw if raw is not None else json.dumps(body or {})
        return self.client.patch(path, data, content_type="application/json", headers=self._headers(headers))

    def delete(self, path, headers=None):
        return self.client.delete(path, headers=self._headers(headers))
