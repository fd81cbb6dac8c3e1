"""API tokens: `POST /api/auth/token` issues one for a username and password, `DELETE` revokes it."""

from datetime import datetime

from ninja import Router, Schema, Status

from baton.core.api import SOURCE, InputSchema, responses, token_auth
from baton.org import services

router = Router(tags=["auth"])


class TokenIn(InputSchema):
    username: str
    password: str
    name: str = ""


class TokenOut(Schema):
    token: str
    prefix: str
    expires_at: datetime


@router.post("/auth/token", auth=None, response=responses(201, TokenOut), operation_id="auth_token_issue",
             summary="Issue an API token (shown once)")
def token_issue(request, payload: TokenIn):
    token, raw = services.api_token_issue(username=payload.username, password=payload.password,
                                          name=payload.name, source=SOURCE)
    return Status(201, {"token": raw, "prefix": token.prefix, "expires_at": token.expires_at})


@router.delete("/auth/token", auth=[token_auth], response=responses(204, None), operation_id="auth_token_revoke",
               summary="Revoke the token this call is made with")
def token_revoke(request):
    services.api_token_revoke(token=request.api_token, actor=request.auth, source=SOURCE)
    return Status(204, None)
