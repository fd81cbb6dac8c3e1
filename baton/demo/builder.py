"""The demo company generator: a seeded, realistic sales organisation with a year of history.

Everything comes from one `random.Random(seed)` and the given `now`, so the same seed and `now` give the
same rows. Rows are generated in memory first (so later facts, such as a lead's conversion, can adjust
earlier ones, such as its account's creation time) and then written with large `bulk_create` batches in
one transaction: no per-row queries, no per-row audit.
"""

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from baton.accounts.models import Account, Contact, Industry
from baton.activities.models import Activity, Task
from baton.demo import data as D
from baton.leads.models import Lead, LeadStatus, Tag
from baton.opportunities.models import Opportunity, Stage, StageChange
from baton.opportunities.services import pipeline_ensure_default
from baton.org.models import Region, Role, Team, User

BATCH = 2000
BASE_COUNTS = {"accounts": 2000, "leads": 20000}
SALES_ROLES = ("rep", "mentor", "manager")


def grade_for(score: int) -> str:
    return "A" if score >= 85 else "B" if score >= 60 else "C"


@dataclass
class Built:
    counts: dict = field(default_factory=dict)
    logins: dict = field(default_factory=dict)  # role -> [usernames]


class DemoBuilder:
    def __init__(self, *, seed: int, now: datetime, scale: float = 1.0, password: str):
        self.rng = random.Random(seed)
        self.now = now.replace(microsecond=0)
        self.local_now = timezone.localtime(self.now)
        self.scale = scale
        self.password_hash = make_password(password)  # hashed once, shared by every demo user
        self.used_usernames: set[str] = set()
        self.used_company_names: set[str] = set()
        self.built = Built()

    # --- small helpers -------------------------------------------------------------------------------
    def n(self, base: int) -> int:
        return max(1, round(base * self.scale))

    def weighted(self, items, weights):
        return self.rng.choices(items, weights=weights, k=1)[0]

    def person(self):
        """(display name, pinyin) of a made-up person."""
        rng = self.rng
        s, s_py = rng.choice(D.SURNAMES)
        g1, p1 = rng.choice(D.GIVEN)
        if rng.random() < 0.6:
            g2, p2 = rng.choice(D.GIVEN)
            return s + g1 + g2, s_py + p1 + p2
        return s + g1, s_py + p1

    def phone(self) -> str:
        return "1" + self.rng.choice("3578") + "".join(self.rng.choice("0123456789") for _ in range(9))

    def clip(self, t: datetime) -> datetime:
        return min(t, self.now)

    def business_time(self, days_ago: float) -> datetime:
        """A moment on the local working day `days_ago` before now, between 08:30 and 19:30."""
        day = (self.local_now - timedelta(days=int(days_ago))).replace(hour=8, minute=30, second=0)
        t = day + timedelta(seconds=self.rng.randrange(11 * 3600))
        return self.clip(t)

    def after(self, t: datetime, mean_hours: float) -> datetime:
        return t + timedelta(seconds=int(self.rng.expovariate(1 / (mean_hours * 3600))) + 60)

    def company_name(self, city: str, industry_code: str) -> str:
        words = self.industry_words[industry_code]
        rng = self.rng
        for attempt in range(20):
            name = f"{city}{rng.choice(D.TRADE_NAMES)}{rng.choice(words)}{rng.choice(D.COMPANY_SUFFIXES)}"
            if attempt > 10:
                name = f"{city}{rng.choice(D.TRADE_NAMES)}{rng.choice(D.TRADE_NAMES)}{rng.choice(words)}有限公司"
            if name not in self.used_company_names:
                break
        self.used_company_names.add(name)
        return name

    # --- the build -----------------------------------------------------------------------------------
    def build(self) -> Built:
        self.build_reference()
        self.build_org()
        self.build_accounts()
        self.build_leads()
        self.write_accounts_and_leads()
        self.build_opportunities()
        self.build_account_activities()
        self.write_activities()
        self.build_tasks()
        return self.built

    def build_reference(self):
        self.regions = []
        for code, name, cities, weight in D.REGIONS:
            region, _ = Region.objects.get_or_create(code=code, defaults={"name": name})
            self.regions.append((region, cities, weight))
        self.industries = {}
        self.industry_words = {}
        for code, name, words in D.INDUSTRIES:
            self.industries[code], _ = Industry.objects.get_or_create(code=code, defaults={"name": name})
            self.industry_words[code] = words
        self.industry_codes = [c for c, _, _ in D.INDUSTRIES]
        self.tags = {}
        for name, color in D.TAGS:
            self.tags[name], _ = Tag.objects.get_or_create(name=name, defaults={"color": color})
        self.roles = {r.code: r for r in Role.objects.all()}
        for code in Role.Code.values:  # a database flushed by tests has lost the migration's rows
            if code not in self.roles:
                self.roles[code] = Role.objects.create(code=code)
        self.pipeline = pipeline_ensure_default()
        stages = list(self.pipeline.stages.order_by("position"))
        self.open_stages = [s for s in stages if s.kind == Stage.Kind.OPEN]
        self.won_stage = next(s for s in stages if s.kind == Stage.Kind.WON)
        self.lost_stage = next(s for s in stages if s.kind == Stage.Kind.LOST)

    # --- people -----------------------------------------------------------------------------------
    def new_user(self, roles, *, region=None, team=None, manager=None, mentor=None, newcomer=False,
                 username=None, display=None):
        if username is None:
            display, username = self.person()
        base, k = username, 2
        while username in self.used_usernames:
            username = f"{base}{k}"
            k += 1
        self.used_usernames.add(username)
        if newcomer:
            hire = self.local_now.date() - timedelta(days=self.rng.randrange(5, 85))
        else:
            hire = self.local_now.date() - timedelta(days=self.rng.randrange(200, 3000))
        joined = timezone.make_aware(datetime(hire.year, hire.month, hire.day, 9, 0))
        user = User(username=username, display_name=display, password=self.password_hash, region=region,
                    team=team, manager=manager, mentor=mentor, hire_date=hire, date_joined=joined,
                    email=f"{username}@demo.baton.local", phone=self.phone(), language="zh-hans")
        user.save()
        self.user_roles.extend((user, code) for code in roles)
        for code in roles:
            self.built.logins.setdefault(code, []).append(username)
        return user

    def build_org(self):
        self.user_roles = []
        # Users made before the demo (`createsuperuser`) keep their names; demo users take the next free ones.
        self.used_usernames.update(User.objects.values_list("username", flat=True))
        n_before = len(self.used_usernames)
        admin = self.new_user(["ops"], username="admin", display="系统管理员")
        self.admin = admin
        User.objects.filter(pk=admin.pk).update(is_staff=True, is_superuser=True)
        self.new_user(["ops"])
        self.new_user(["legal"])
        self.new_user(["finance"])
        self.sales_pool = {}  # region id -> [(user, weight)]
        self.region_users = {}
        self.users = []
        teams = []
        for region, _cities, _weight in self.regions:
            director = self.new_user(["director"], region=region)
            pool = []
            region_teams = []
            for stem in D.TEAMS[region.code]:
                team, _ = Team.objects.get_or_create(name=f"{region.name}·{stem}", defaults={"region": region})
                region_teams.append(team)
                manager = self.new_user(["manager"], region=region, team=team, manager=director)
                team.manager = manager
                teams.append(team)
                mentor = self.new_user(["rep", "mentor"], region=region, team=team, manager=manager)
                pool += [(manager, 0.35), (mentor, 1.0)]
                pool.append((self.new_user(["rep"], region=region, team=team, manager=manager), 1.0))
                newcomer = self.new_user(["rep"], region=region, team=team, manager=manager, mentor=mentor,
                                         newcomer=True)
                pool.append((newcomer, 0.5))
            self.new_user(["presales"], region=region, team=self.rng.choice(region_teams), manager=director)
            self.new_user(["csm"], region=region, team=self.rng.choice(region_teams), manager=director)
            if region.code in ("east", "south"):
                self.new_user(["delivery"], region=region, manager=director)
            self.sales_pool[region.pk] = pool
        Team.objects.bulk_update(teams, ["manager"])
        Through = User.roles.through
        Through.objects.bulk_create(Through(user_id=u.pk, role_id=self.roles[c].pk) for u, c in self.user_roles)
        self.built.counts["regions"] = len(self.regions)
        self.built.counts["teams"] = len(teams)
        self.built.counts["users"] = len(self.used_usernames) - n_before

    def pick_owner(self, region):
        pool = self.sales_pool[region.pk]
        return self.weighted([u for u, _ in pool], [w for _, w in pool])

    # --- accounts ---------------------------------------------------------------------------------
    def pick_place(self):
        region, cities, _ = self.weighted(self.regions, [w for _, _, w in self.regions])
        city = self.rng.choice(cities)
        return region, city

    def build_accounts(self):
        rng = self.rng
        self.accounts = []
        self.account_industries = []  # (account, industry code)
        self.contacts_of = {}  # id(account) -> [Contact]
        self.accounts_by_owner = {}
        self.accounts_by_region = {r.pk: [] for r, _, _ in self.regions}
        for i in range(self.n(BASE_COUNTS["accounts"])):
            region, (city, lat, lng) = self.pick_place()
            industry = self.weighted(self.industry_codes, D.INDUSTRY_WEIGHTS)
            owner = self.pick_owner(region) if rng.random() > 0.05 else None
            created = self.business_time(rng.uniform(30, 720))
            acc = Account(
                name=self.company_name(city, industry), region=region, owner=owner,
                credit_code=(f"91{rng.randrange(110000, 660000)}{i:09d}{rng.choice('0123456789ABCDEFGHJKLMNPQRTUWXY')}"
                             if rng.random() < 0.8 else None),
                address=f"{city}市{rng.choice(D.ROADS)}{rng.randrange(1, 999)}号",
                lat=round(lat + rng.gauss(0, 0.06), 5), lng=round(lng + rng.gauss(0, 0.06), 5),
                created_at=created, updated_at=created,
            )
            self.accounts.append(acc)
            self.account_industries.append((acc, industry))
            if rng.random() < 0.25:
                other = rng.choice(self.industry_codes)
                if other != industry:
                    self.account_industries.append((acc, other))
            contacts = []
            for _ in range(rng.choice([1, 1, 2, 2, 3])):
                name, py = self.person()
                title, role = rng.choice(D.CONTACT_TITLES)
                contacts.append(Contact(account=acc, name=name, title=title, phone=self.phone(),
                                        email=f"{py}@corp{i}.example.cn" if rng.random() < 0.7 else "",
                                        decision_role=role if rng.random() < 0.85 else "",
                                        created_at=created, updated_at=created))
            self.contacts_of[id(acc)] = contacts
            if owner:
                self.accounts_by_owner.setdefault(owner.pk, []).append(acc)
            self.accounts_by_region[region.pk].append(acc)

    # --- leads ------------------------------------------------------------------------------------
    def lead_activity(self, lead_state, owner, t, first: bool):
        rng = self.rng
        kind = "call" if first or rng.random() < 0.68 else self.weighted(["wechat", "email", "visit"], [15, 10, 5])
        if kind == "call":
            outcome = self.weighted(["connected", "no_answer", "busy", "wrong_number"], [62, 25, 10, 3])
            duration = rng.randrange(2, 25) if outcome == "connected" else 0
            subject = rng.choice(D.LEAD_CALL_SUBJECTS)
        else:
            outcome = "done"
            duration = rng.randrange(45, 150) if kind == "visit" else None
            subject = {"wechat": "微信沟通", "email": "发送产品介绍", "visit": "初次拜访"}[kind]
        return Activity(kind=kind, subject=subject, outcome=outcome, occurred_at=t, duration_minutes=duration,
                        author=owner, created_at=t, lead=lead_state)

    def build_leads(self):
        rng = self.rng
        self.leads = []
        self.lead_industries = []
        self.lead_tags = []
        self.activities = []
        self.conversions = []  # (lead, account, contact, converted_at)
        n_external = 0
        sources = [s for s, _ in D.LEAD_SOURCES]
        source_w = [w for _, w in D.LEAD_SOURCES]
        for _ in range(self.n(BASE_COUNTS["leads"])):
            region, (city, _lat, _lng) = self.pick_place()
            industry = self.weighted(self.industry_codes, D.INDUSTRY_WEIGHTS)
            source = self.weighted(sources, source_w)
            days_ago = 365 * rng.random() ** 1.15
            created = self.business_time(days_ago)
            contact_name, py = self.person()
            budget = None
            if rng.random() > 0.25:
                budget = Decimal(int(rng.lognormvariate(math.log(180000), 0.9) / 1000) * 1000 + 1000)
            score = 55 + D.SOURCE_SCORE[source] + int(rng.gauss(0, 17))
            if budget is not None:
                score += int(6 * math.log10(float(budget) / 100000) * 2)
            score = max(0, min(100, score))
            lead = Lead(source=source, company=self.company_name(city, industry), contact_name=contact_name,
                        phone=self.phone() if rng.random() < 0.92 else "",
                        email=f"{py}@{rng.choice(['163.com', 'qq.com', 'company.cn'])}" if rng.random() < 0.5 else "",
                        budget=budget, region=region, score=score, grade=grade_for(score),
                        created_at=created, updated_at=created, status=LeadStatus.NEW, status_changed_at=created)
            if source in D.UTM:
                lead.utm_source, lead.utm_medium, lead.utm_campaign = rng.choice(D.UTM[source])
            if source == "api":
                n_external += 1
                lead.external_id = f"MKT-{n_external:06d}"
            self.lead_industries.append((lead, industry))
            self.lead_tags.extend((lead, t) for t in self.tags_for(lead, source, industry))
            self.leads.append(lead)
            self.advance_lead(lead, region, created, days_ago)

    def tags_for(self, lead, source, industry):
        rng = self.rng
        tags = []
        if source == "trade_show" and rng.random() < 0.7:
            tags.append("来源·展会")
        if source == "referral" and rng.random() < 0.7:
            tags.append("来源·转介绍")
        if industry == "medical" and rng.random() < 0.5:
            tags.append("行业·医疗")
        if industry == "manufacturing" and rng.random() < 0.5:
            tags.append("行业·制造")
        if lead.budget is not None and rng.random() < 0.4:
            tags.append("预算·50万以上" if lead.budget >= 500000 else
                        "预算·10-50万" if lead.budget >= 100000 else "预算·10万以下")
        if lead.grade == "A" and rng.random() < 0.5:
            tags.append("重点跟进")
        return tags

    def advance_lead(self, lead, region, created, days_ago):
        """Walk the lead through its life up to now: assignment, contact, outcome, with matching stamps."""
        rng = self.rng
        if (days_ago < 3 and rng.random() < 0.4) or rng.random() < 0.02:
            return  # waiting in the region's pool
        assigned = self.after(created, 1.5)
        if assigned > self.now:
            return
        owner = self.pick_owner(region)
        lead.owner, lead.assigned_at, lead.status, lead.status_changed_at = owner, assigned, "assigned", assigned
        lead.updated_at = assigned
        first = self.after(assigned, 8 if rng.random() < 0.8 else 72)
        if first > self.now or rng.random() < 0.06:
            return
        times = [first]
        r = rng.random()
        if (self.now - first).days < 7:
            status = "contacted" if r < 0.7 else "qualified" if r < 0.9 else "disqualified"
        else:
            status = ("contacted" if r < 0.14 else "qualified" if r < 0.29 else "converted" if r < 0.45
                      else "disqualified" if r < 0.8 else "nurturing")
        extra = {"contacted": (0, 1), "qualified": (1, 2), "converted": (1, 3), "disqualified": (0, 2),
                 "nurturing": (0, 2)}[status]
        for _ in range(rng.randint(*extra)):
            t = self.after(times[-1], 60)
            if t > self.now:
                break
            times.append(t)
        for i, t in enumerate(times):
            self.activities.append(self.lead_activity(lead, owner, t, first=i == 0))
        lead.first_contact_at, lead.last_activity_at = times[0], times[-1]
        changed = times[0] if status == "contacted" else self.clip(self.after(times[-1], 20))
        if status == "converted":
            self.convert(lead, region, owner, changed)
        lead.status, lead.status_changed_at = status, changed
        lead.updated_at = max(changed, lead.last_activity_at)

    def convert(self, lead, region, owner, at):
        rng = self.rng
        own = self.accounts_by_owner.get(owner.pk)
        candidates = own if own and rng.random() < 0.85 else self.accounts_by_region[region.pk]
        if not candidates:
            candidates = self.accounts
        account = rng.choice(candidates)
        if account.created_at > at:  # the account was born from this conversion
            account.created_at = account.updated_at = at
            for c in self.contacts_of[id(account)]:
                c.created_at = c.updated_at = at
        contacts = self.contacts_of[id(account)]
        contact = next((c for c in contacts if c.decision_role == "decision_maker"), contacts[0])
        lead.company, lead.contact_name, lead.phone = account.name, contact.name, contact.phone
        self.conversions.append((lead, account, contact, at))

    def write_accounts_and_leads(self):
        Account.objects.bulk_create(self.accounts, batch_size=BATCH)
        contacts = [c for a in self.accounts for c in self.contacts_of[id(a)]]
        for c in contacts:
            c.account_id = c.account.pk
        Contact.objects.bulk_create(contacts, batch_size=BATCH)
        for lead, account, contact, _at in self.conversions:
            lead.account_id, lead.contact_id = account.pk, contact.pk
        from baton.capture.dedupe import normalised_keys

        for lead in self.leads:  # the duplicate finder's keys, as lead_create would store them
            for key, value in normalised_keys({"phone": lead.phone, "email": lead.email,
                                               "company": lead.company}).items():
                setattr(lead, key, value)
        Lead.objects.bulk_create(self.leads, batch_size=BATCH)
        AI = Account.industries.through
        AI.objects.bulk_create([AI(account_id=a.pk, industry_id=self.industries[c].pk)
                                for a, c in self.account_industries], batch_size=BATCH)
        LI = Lead.industries.through
        LI.objects.bulk_create([LI(lead_id=lead.pk, industry_id=self.industries[c].pk)
                                for lead, c in self.lead_industries], batch_size=BATCH)
        LT = Lead.tags.through
        LT.objects.bulk_create([LT(lead_id=lead.pk, tag_id=self.tags[t].pk) for lead, t in self.lead_tags],
                               batch_size=BATCH)
        self.built.counts.update(accounts=len(self.accounts), contacts=len(contacts), leads=len(self.leads))

    # --- opportunities ----------------------------------------------------------------------------
    def build_opportunities(self):
        rng = self.rng
        opps, paths = [], []
        for lead, account, contact, at in self.conversions:
            owner = lead.owner
            amount = float(lead.budget) * rng.uniform(0.6, 1.4) if lead.budget else \
                rng.lognormvariate(math.log(220000), 0.8)
            stage_i = 0 if rng.random() < 0.5 else 1
            path = [(None, self.open_stages[stage_i], at, None)]
            t, outcome = at, None
            while True:
                nxt = self.after(t, 24 * 19)
                if nxt > self.now:
                    break
                cur = path[-1][1]
                if rng.random() < 0.14:
                    new = self.lost_stage
                elif stage_i + 1 < len(self.open_stages):
                    stage_i += 1
                    new = self.open_stages[stage_i]
                else:
                    new = self.won_stage
                path.append((cur, new, nxt, int((nxt - t).total_seconds())))
                t = nxt
                if new.kind != Stage.Kind.OPEN:
                    outcome = new
                    break
            final = path[-1][1]
            status = {Stage.Kind.WON: "won", Stage.Kind.LOST: "lost"}.get(final.kind, "open")
            close = t.date() if status != "open" else \
                (at + timedelta(days=rng.randrange(45, 150))).date()
            if status == "open" and close < self.local_now.date():
                close = self.local_now.date() + timedelta(days=rng.randrange(7, 60))
            opp = Opportunity(
                name=f"{account.name}-{rng.choice(['采购项目', '数字化项目', '年度框架', '一期项目', '扩容项目'])}",
                account_id=account.pk, contact_id=contact.pk, lead_id=lead.pk, owner=owner,
                pipeline=self.pipeline, stage=final, amount=Decimal(int(amount / 100) * 100),
                expected_close_date=close, probability=final.probability, status=status,
                lost_reason=rng.choice(D.LOST_REASONS) if status == "lost" else "",
                created_at=at, updated_at=t, stage_entered_at=t, closed_at=t if outcome else None,
            )
            opps.append(opp)
            paths.append(path)
            self.opp_activities(opp, account, owner, path)
        Opportunity.objects.bulk_create(opps, batch_size=BATCH)
        changes = [StageChange(opportunity_id=o.pk, from_stage=f, to_stage=to, at=at, actor=o.owner,
                               dwell_seconds=dwell)
                   for o, path in zip(opps, paths, strict=True) for f, to, at, dwell in path]
        StageChange.objects.bulk_create(changes, batch_size=BATCH)
        self.opportunities = opps
        self.built.counts.update(opportunities=len(opps), stage_changes=len(changes))

    def opp_activities(self, opp, account, owner, path):
        rng = self.rng
        end = opp.closed_at or self.now
        bounds = [p[2] for p in path] + [end]
        for i in range(len(path)):
            start, stop = bounds[i], bounds[i + 1]
            span = (stop - start).total_seconds()
            if span <= 3600 or path[i][1].kind != Stage.Kind.OPEN:
                continue
            for _ in range(rng.randint(1, 2)):
                t = start + timedelta(seconds=rng.randrange(int(span)))
                kind = self.weighted(["call", "visit", "meeting", "email", "wechat"], [40, 16, 16, 12, 16])
                if kind == "call":
                    outcome = self.weighted(["connected", "no_answer", "busy"], [75, 18, 7])
                    duration = rng.randrange(3, 40) if outcome == "connected" else 0
                elif kind in ("visit", "meeting"):
                    outcome = self.weighted(["done", "follow_up"], [70, 30])
                    duration = rng.randrange(30, 180)
                else:
                    outcome, duration = "done", None
                self.activities.append(Activity(
                    kind=kind, subject=rng.choice(D.OPP_SUBJECTS[kind]), outcome=outcome, occurred_at=t,
                    duration_minutes=duration, author=owner, created_at=t, opportunity=opp, account_id=account.pk,
                ))

    def build_account_activities(self):
        rng = self.rng
        for acc in self.accounts:
            if acc.owner is None or rng.random() < 0.2:
                continue
            span = (self.now - acc.created_at).total_seconds()
            for _ in range(rng.randint(1, 3)):
                t = acc.created_at + timedelta(seconds=rng.randrange(max(1, int(span))))
                kind = self.weighted(["call", "visit", "wechat"], [60, 25, 15])
                self.activities.append(Activity(
                    kind=kind, subject=rng.choice(D.ACCOUNT_SUBJECTS),
                    outcome="connected" if kind == "call" else "done", occurred_at=t,
                    duration_minutes=rng.randrange(5, 90), author=acc.owner, created_at=t, account_id=acc.pk,
                ))

    def write_activities(self):
        for a in self.activities:
            if a.lead is not None:
                a.lead_id = a.lead.pk
            if a.opportunity is not None:
                a.opportunity_id = a.opportunity.pk
        self.activities.sort(key=lambda a: a.occurred_at)
        Activity.objects.bulk_create(self.activities, batch_size=BATCH)
        self.built.counts["activities"] = len(self.activities)

    # --- tasks ------------------------------------------------------------------------------------
    def build_tasks(self):
        rng = self.rng
        lead_ct = ContentType.objects.get_for_model(Lead)
        opp_ct = ContentType.objects.get_for_model(Opportunity)
        tasks = []
        for lead in self.leads:
            if lead.status == "assigned":
                due = lead.assigned_at + timedelta(hours=24)
                tasks.append(Task(title=f"首次联系：{lead.company}", assignee=lead.owner, due_at=due,
                                  origin=Task.Origin.SLA, linked_type=lead_ct, linked_id=lead.pk,
                                  created_at=lead.assigned_at))
            elif lead.status == "qualified" and rng.random() < 0.5:
                created = lead.status_changed_at
                tasks.append(Task(title=f"安排拜访：{lead.company}", assignee=lead.owner, created_by=lead.owner,
                                  due_at=created + timedelta(days=rng.randrange(1, 10)), linked_type=lead_ct,
                                  linked_id=lead.pk, created_at=created))
        for opp in self.opportunities:
            if opp.status == "open" and rng.random() < 0.6:
                created = opp.stage_entered_at
                tasks.append(Task(title=f"推进商机：{opp.name}", assignee=opp.owner, created_by=opp.owner,
                                  due_at=self.now + timedelta(days=rng.randrange(-5, 14)),
                                  origin=Task.Origin.STAGE, linked_type=opp_ct, linked_id=opp.pk,
                                  created_at=created))
            elif opp.status != "open" and rng.random() < 0.5:
                tasks.append(Task(title=f"整理复盘：{opp.name}", assignee=opp.owner, created_by=opp.owner,
                                  due_at=opp.closed_at + timedelta(days=3), status=Task.Status.DONE,
                                  origin=Task.Origin.REVIEW, linked_type=opp_ct, linked_id=opp.pk,
                                  created_at=opp.closed_at,
                                  completed_at=self.clip(opp.closed_at + timedelta(days=rng.randrange(0, 4)))))
        Task.objects.bulk_create(tasks, batch_size=BATCH)
        self.built.counts["tasks"] = len(tasks)
        self.built.counts["open_tasks"] = sum(t.status == Task.Status.OPEN for t in tasks)
