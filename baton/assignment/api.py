"""/api/pools/…: assignment pools, members, absences, backlog, the manager's board and reassignment."""

from datetime import date, datetime
from typing import Any, Literal

from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from pydantic import Field

from baton.assignment import selectors, services
from baton.assignment.models import MemberAbsence, Pool, PoolMember
from baton.core.api import SOURCE, InputSchema, Refs, partial, responses
from baton.core.errors import PermissionDenied
from baton.leads.selectors import lead_get
from baton.org.models import Region, User

router = Router(tags=["assignment"])
READ_ROLES = ("ops", "director", "manager")


def _reader(request):
    user = request.user
    if not (user.is_superuser or any(user.has_role(r) for r in READ_ROLES)):
        raise PermissionDenied()
    return user


class PoolOut(Schema):
    id: int
    name: str
    priority: int
    condition: dict[str, Any]
    region_id: int | None
    strategy: str
    active: bool
    dynamic_rule: dict[str, Any]
    backlog_count: int = 0


class PoolIn(InputSchema):
    name: str = Field(..., min_length=1, max_length=100)
    priority: int = 100
    condition: dict[str, Any] = {}
    region_id: int | None = None
    strategy: Literal["round_robin", "weighted", "least_loaded"] = "round_robin"
    active: bool = True
    dynamic_rule: dict[str, Any] = {}


PoolPatch = partial(PoolIn, "PoolPatch")


class MemberOut(Schema):
    id: int
    user_id: int
    user: str
    weight: int
    daily_cap: int
    active: bool

    @staticmethod
    def resolve_user(obj):
        return str(obj.user)


class MemberIn(InputSchema):
    user_id: int
    weight: int = Field(1, ge=1, le=100)
    daily_cap: int = Field(8, ge=0, le=1000)
    active: bool = True


class MemberPatch(InputSchema):
    weight: int | None = Field(None, ge=1, le=100)
    daily_cap: int | None = Field(None, ge=0, le=1000)
    active: bool | None = None


class AbsenceOut(Schema):
    id: int
    user_id: int
    date_from: date
    date_to: date
    reason: str
    note: str


class AbsenceIn(InputSchema):
    user_id: int
    date_from: date
    date_to: date
    reason: Literal["leave", "absent"] = "leave"
    note: str = Field("", max_length=200)


class BacklogOut(Schema):
    lead_id: int
    lead: str
    since: datetime

    @staticmethod
    def resolve_lead(obj):
        return str(obj.lead)


class ReasonOut(Schema):
    code: str
    label: str


class ReassignIn(InputSchema):
    lead_id: int
    to_user_id: int | None = None
    pool_id: int | None = None
    reason_code: str = Field(..., min_length=1, max_length=40)
    note: str = Field("", max_length=500)


class AssignmentOut(Schema):
    id: int
    lead_id: int
    pool_id: int | None
    user_id: int | None
    kind: str
    at: datetime
    strategy: str
    rotation_position: int | None
    skipped: list[dict[str, Any]]
    explanation: str
    reason_code: str


class BoardMember(Schema):
    user_id: int
    name: str
    today: int
    cap: int
    status: str
    dynamic: bool


class BoardPool(Schema):
    id: int
    name: str
    strategy: str
    active: bool
    backlog: int
    members: list[BoardMember]


class BoardOut(Schema):
    date: date
    pools: list[BoardPool]
    backlog_total: int


def _pool_data(data: dict) -> dict:
    refs = Refs(data)
    if "region_id" in data:
        refs.data["region"] = refs.data.pop("region_id")
        refs.one("region", Region.objects.all())
    return refs.done()


def _user(field: str, pk) -> User:
    refs = Refs({field: pk})
    refs.one(field, User.objects.filter(is_active=True))
    return refs.done()[field]


@router.get("/pools", response=list[PoolOut])
def pool_list(request):
    _reader(request)
    return list(selectors.pool_list())


@router.post("/pools", response=responses(201, PoolOut))
def pool_create(request, payload: PoolIn):
    pool = services.pool_create(actor=request.user, source=SOURCE, **_pool_data(payload.model_dump()))
    return Status(201, pool)


@router.get("/pools/board", response=responses(200, BoardOut))
def board(request):
    return selectors.assignment_board(user=request.user)


@router.get("/pools/reasons", response=list[ReasonOut])
def reasons(request):
    return services.reassign_reasons()


@router.post("/pools/reassign", response=responses(200, AssignmentOut))
def reassign(request, payload: ReassignIn):
    lead = lead_get(user=request.user, pk=payload.lead_id, action="change")
    to_user = _user("to_user_id", payload.to_user_id) if payload.to_user_id is not None else None
    pool = get_object_or_404(Pool, pk=payload.pool_id) if payload.pool_id is not None else None
    return services.lead_reassign(lead=lead, actor=request.user, to_user=to_user, pool=pool,
                                  reason_code=payload.reason_code, note=payload.note, source=SOURCE)


@router.get("/pools/absences", response=list[AbsenceOut])
def absence_list(request, user_id: int | None = None):
    user = request.user
    if user_id is None or user_id != user.pk:
        _reader(request)
    return list(selectors.absence_list(user=get_object_or_404(User, pk=user_id) if user_id else None)[:500])


@router.post("/pools/absences", response=responses(201, AbsenceOut))
def absence_create(request, payload: AbsenceIn):
    data = payload.model_dump()
    user = _user("user_id", data.pop("user_id"))
    return Status(201, services.absence_create(user=user, actor=request.user, source=SOURCE, **data))


@router.delete("/pools/absences/{absence_id}", response=responses(204, None))
def absence_delete(request, absence_id: int):
    services.absence_delete(absence=get_object_or_404(MemberAbsence, pk=absence_id), actor=request.user,
                            source=SOURCE)
    return Status(204, None)


@router.get("/pools/{pool_id}", response=responses(200, PoolOut))
def pool_get(request, pool_id: int):
    _reader(request)
    return get_object_or_404(selectors.pool_list(), pk=pool_id)


@router.patch("/pools/{pool_id}", response=responses(200, PoolOut))
def pool_update(request, pool_id: int, payload: PoolPatch):
    pool = get_object_or_404(Pool, pk=pool_id)
    services.pool_update(pool=pool, actor=request.user, source=SOURCE,
                         **_pool_data(payload.model_dump(exclude_unset=True)))
    return get_object_or_404(selectors.pool_list(), pk=pool_id)


@router.delete("/pools/{pool_id}", response=responses(204, None))
def pool_delete(request, pool_id: int):
    services.pool_delete(pool=get_object_or_404(Pool, pk=pool_id), actor=request.user, source=SOURCE)
    return Status(204, None)


@router.get("/pools/{pool_id}/members", response=list[MemberOut])
def member_list(request, pool_id: int):
    _reader(request)
    return list(selectors.pool_members(get_object_or_404(Pool, pk=pool_id)))


@router.post("/pools/{pool_id}/members", response=responses(201, MemberOut))
def member_add(request, pool_id: int, payload: MemberIn):
    data = payload.model_dump()
    user = _user("user_id", data.pop("user_id"))
    member = services.member_add(pool=get_object_or_404(Pool, pk=pool_id), user=user, actor=request.user,
                                 source=SOURCE, **data)
    return Status(201, member)


@router.patch("/pools/{pool_id}/members/{member_id}", response=responses(200, MemberOut))
def member_update(request, pool_id: int, member_id: int, payload: MemberPatch):
    member = get_object_or_404(PoolMember, pk=member_id, pool_id=pool_id)
    services.member_update(member=member, actor=request.user, source=SOURCE,
                           **payload.model_dump(exclude_unset=True, exclude_none=True))
    return member


@router.delete("/pools/{pool_id}/members/{member_id}", response=responses(204, None))
def member_remove(request, pool_id: int, member_id: int):
    services.member_remove(member=get_object_or_404(PoolMember, pk=member_id, pool_id=pool_id),
                           actor=request.user, source=SOURCE)
    return Status(204, None)


@router.get("/pools/{pool_id}/backlog", response=list[BacklogOut])
def backlog(request, pool_id: int):
    _reader(request)
    return list(selectors.backlog_list(get_object_or_404(Pool, pk=pool_id))[:500])


@router.post("/pools/{pool_id}/drain", response=responses(200, dict))
def drain(request, pool_id: int):
    _reader(request)
    return {"assigned": services.pool_drain_backlog(get_object_or_404(Pool, pk=pool_id), source=SOURCE)}
