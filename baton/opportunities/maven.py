"""Import the Maven Analytics "CRM + Sales Opportunities" dataset into a pipeline named "Maven".

Files: accounts.csv (85), products.csv (7), sales_teams.csv (35 agents, 6 managers, 3 offices),
sales_pipeline.csv (8,800 deals in Prospecting / Engaging / Won / Lost). Quirks of the published data are
handled and reported, not hidden: the product "GTXPro" (products.csv spells "GTX Pro"), the sector typo
"technolgy", open deals without an account, Prospecting rows without any date.
"""

import csv
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from baton.core import clock
from baton.core.errors import Conflict, ValidationFailed
from baton.core.models import AuditEntry, ChangeSource
from baton.core.services import record
from baton.opportunities.models import Opportunity, Pipeline, Stage, StageChange, StageRequirement

PIPELINE_NAME = "Maven"
STAGES = [("Prospecting", Stage.Kind.OPEN, 10, "azure"), ("Engaging", Stage.Kind.OPEN, 50, "blue"),
          ("Won", Stage.Kind.WON, 100, "green"), ("Lost", Stage.Kind.LOST, 0, "red")]
SECTOR_FIXES = {"technolgy": "technology"}
CHUNK = 1000
FILES = ("accounts.csv", "products.csv", "sales_teams.csv", "sales_pipeline.csv")


def default_dir() -> Path:
    return Path(os.environ.get("BATON_DATASETS", "/work/shared/datasets")) / "maven-crm-sales-opportunities"


@dataclass
class MavenReport:
    counts: Counter = field(default_factory=Counter)
    quirks: list[str] = field(default_factory=list)
    stages: Counter = field(default_factory=Counter)
    won_total: Decimal = Decimal("0")


def _rows(directory: Path, name: str) -> list[dict]:
    with open(directory / name, newline="", encoding="utf-8-sig") as fh:
        return [{k.strip(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def _key(name: str) -> str:
    return re.sub(r"\s+", "", name).lower()


def _day(value: str) -> datetime | None:
    if not value:
        return None
    return timezone.make_aware(datetime.combine(date.fromisoformat(value), time(9, 0)))


def _username(name: str) -> str:
    return ("maven." + slugify(name).replace("-", "."))[:150]


def maven_import(directory: Path | str | None = None, *, actor=None) -> MavenReport:
    """Load the dataset; refuses to run twice (the "Maven" pipeline already has deals) or past gates."""
    from baton.accounts.models import Account, Industry
    from baton.org.models import Region, Role, Team, User

    directory = Path(directory) if directory else default_dir()
    missing = [n for n in FILES if not (directory / n).is_file()]
    if missing:
        raise ValidationFailed(f"Missing files in {directory}: {', '.join(missing)}")
    accounts, products = _rows(directory, "accounts.csv"), _rows(directory, "products.csv")
    agents, deals = _rows(directory, "sales_teams.csv"), _rows(directory, "sales_pipeline.csv")
    report = MavenReport()
    now = clock.now()

    with transaction.atomic():
        pipeline, _ = Pipeline.objects.get_or_create(name=PIPELINE_NAME)
        if pipeline.opportunities.exists():
            raise Conflict(f"The pipeline “{PIPELINE_NAME}” already holds deals: the dataset was imported.")
        for position, (name, kind, prob, color) in enumerate(STAGES):
            Stage.objects.get_or_create(pipeline=pipeline, name=name,
                                        defaults={"position": position, "kind": kind, "probability": prob,
                                                  "color": color})
        stages = {s.name: s for s in pipeline.stages.all()}
        if StageRequirement.objects.filter(stage__pipeline=pipeline).exists():
            # Imported history predates any gate; with gates configured the rows would bypass them.
            raise ValidationFailed("The Maven pipeline has stage requirements: remove them before importing.")

        # Products: the pipeline spells "GTXPro" where products.csv says "GTX Pro": match without spaces.
        product_by_key = {_key(p["product"]): p for p in products}
        report.counts["products"] = len(products)
        used = Counter(d["product"] for d in deals)
        for spelled in sorted(used):
            known = product_by_key.get(_key(spelled))
            if known is None:
                report.quirks.append(f"product “{spelled}” is not in products.csv ({used[spelled]} deals)")
            elif known["product"] != spelled:
                report.quirks.append(f"product “{spelled}” in sales_pipeline.csv is “{known['product']}” in "
                                     f"products.csv: {used[spelled]} deals normalised")

        # Industries (sector typo fixed and reported).
        industries = {}
        for sector in sorted({a["sector"] for a in accounts if a["sector"]}):
            fixed = SECTOR_FIXES.get(sector, sector)
            if fixed != sector:
                n = sum(1 for a in accounts if a["sector"] == sector)
                report.quirks.append(f"sector “{sector}” read as “{fixed}” ({n} accounts)")
            industries[sector], _ = Industry.objects.get_or_create(
                code=f"maven-{slugify(fixed)}"[:40], defaults={"name": f"{fixed} (Maven)"[:50]})

        # Regions, teams and users: one team per manager in the manager's regional office.
        regions = {}
        for office in sorted({a["regional_office"] for a in agents}):
            regions[office], _ = Region.objects.get_or_create(code=f"maven-{slugify(office)}"[:20],
                                                              defaults={"name": f"Maven {office}"})
        roles = {code: Role.objects.get_or_create(code=code)[0] for code in ("rep", "manager")}
        users = {}
        for manager_name in sorted({a["manager"] for a in agents}):
            office = next(a["regional_office"] for a in agents if a["manager"] == manager_name)
            user, created = User.objects.get_or_create(
                username=_username(manager_name),
                defaults={"display_name": manager_name, "region": regions[office], "is_active": True})
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
                user.roles.add(roles["manager"])
            team, _ = Team.objects.get_or_create(name=f"Maven · {manager_name}",
                                                 defaults={"region": regions[office], "manager": user})
            User.objects.filter(pk=user.pk).update(team=team)
            users[manager_name] = user
        for a in agents:
            manager = users[a["manager"]]
            user, created = User.objects.get_or_create(
                username=_username(a["sales_agent"]),
                defaults={"display_name": a["sales_agent"], "region": regions[a["regional_office"]],
                          "team_id": Team.objects.get(manager=manager, name__startswith="Maven").pk,
                          "manager": manager})
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
                user.roles.add(roles["rep"])
            users[a["sales_agent"]] = user
        report.counts["agents"] = len(agents)
        report.counts["managers"] = len({a["manager"] for a in agents})
        report.counts["regions"] = len(regions)
        idle = sorted({a["sales_agent"] for a in agents} - {d["sales_agent"] for d in deals})
        if idle:
            report.quirks.append(f"{len(idle)} agents have no opportunities: {', '.join(idle)}")

        # Accounts (owned by the agent with the most deals there; the account's region follows).
        top_agent = {}
        per_account = Counter((d["account"], d["sales_agent"]) for d in deals if d["account"])
        for (acc, agent), _n in per_account.most_common():
            top_agent.setdefault(acc, agent)
        account_objs = {}
        for a in accounts:
            owner = users.get(top_agent.get(a["account"]))
            obj = Account.objects.filter(name=a["account"], custom_fields__source="maven").first()
            if obj is None:
                obj = Account.objects.create(
                    name=a["account"], owner=owner, region=owner.region if owner else None, created_at=now,
                    updated_at=now, custom_fields={
                        "source": "maven", "year_established": a["year_established"], "revenue_musd": a["revenue"],
                        "employees": a["employees"], "office_location": a["office_location"],
                        "subsidiary_of": a["subsidiary_of"]})
                if a["sector"]:
                    obj.industries.add(industries[a["sector"]])
            account_objs[a["account"]] = obj
        report.counts["accounts"] = len(accounts)

        # Deals and their stage history, written in chunks.
        no_account = Counter(d["deal_stage"] for d in deals if not d["account"])
        for stage_name, n in sorted(no_account.items()):
            report.quirks.append(f"{n} {stage_name} deals have no account (imported without one)")
        unknown = sorted({d["account"] for d in deals if d["account"] and d["account"] not in account_objs})
        if unknown:
            report.quirks.append(f"accounts not in accounts.csv: {', '.join(unknown)}")
        undated = sum(1 for d in deals if d["deal_stage"] == "Prospecting" and not d["engage_date"])
        if undated:
            report.quirks.append(f"{undated} Prospecting deals carry no date: created at the import time")
        for start in range(0, len(deals), CHUNK):
            chunk = deals[start:start + CHUNK]
            opps, paths = [], []
            for d in chunk:
                stage = stages[d["deal_stage"]]
                product = product_by_key.get(_key(d["product"]), {"product": d["product"], "sales_price": "0"})
                engaged, closed = _day(d["engage_date"]), _day(d["close_date"])
                value = Decimal(d["close_value"]) if d["close_value"] else None
                amount = value if value is not None else Decimal(product["sales_price"] or 0)
                created = engaged or now
                entered = closed or engaged or now
                owner = users.get(d["sales_agent"])
                opps.append(Opportunity(
                    name=f"{d['opportunity_id']} · {product['product']}", account=account_objs.get(d["account"]),
                    owner=owner, pipeline=pipeline, stage=stage, amount=amount, currency="USD",
                    probability=stage.probability, status={"Won": "won", "Lost": "lost"}.get(stage.name, "open"),
                    lost_reason="Lost (no reason in the source data)" if stage.name == "Lost" else "",
                    custom_fields={"source": "maven", "external_id": d["opportunity_id"],
                                   "product": product["product"], "product_as_given": d["product"],
                                   "engage_date": d["engage_date"] or None, "close_date": d["close_date"] or None,
                                   "close_value": d["close_value"] or None},
                    created_at=created, updated_at=now, stage_entered_at=entered, closed_at=closed))
                if stage.name == "Prospecting":
                    paths.append([(None, stage, created, None)])
                elif stage.name == "Engaging":
                    paths.append([(None, stage, engaged, None)])
                else:
                    paths.append([(None, stages["Engaging"], engaged, None),
                                  (stages["Engaging"], stage, closed, int((closed - engaged).total_seconds()))])
                report.stages[stage.name] += 1
                if stage.name == "Won":
                    report.won_total += value or 0
            Opportunity.objects.bulk_create(opps)
            if opps and opps[0].pk is None:  # backends that do not return ids on bulk insert
                ids = dict(Opportunity.objects.filter(pipeline=pipeline, custom_fields__external_id__in=[
                    o.custom_fields["external_id"] for o in opps]).values_list("custom_fields__external_id", "pk"))
                for o in opps:
                    o.pk = ids[o.custom_fields["external_id"]]
            StageChange.objects.bulk_create(
                StageChange(opportunity_id=o.pk, from_stage=f, to_stage=t, at=at, actor=o.owner, dwell_seconds=dw)
                for o, path in zip(opps, paths, strict=True) for f, t, at, dw in path)
            report.counts["stage_changes"] += sum(len(p) for p in paths)
        report.counts["opportunities"] = len(deals)
        record(pipeline, actor=actor, source=ChangeSource.IMPORT, action=AuditEntry.Action.EVENT,
               changes={"imported": [None, dict(report.counts)]},
               message=f"Maven CRM import: {len(deals)} deals; quirks: {'; '.join(report.quirks)}"[:500])
    return report
