"""The REST API at /api/: one NinjaAPI, each app adds its router."""

from baton.accounts.api import router as accounts_router
from baton.activities.api import router as activities_router
from baton.core.api import DEFAULT_AUTH, BatonAPI, install_exception_handlers
from baton.leads.api import router as leads_router
from baton.opportunities.api import router as opportunities_router
from baton.org.api import router as org_router

api = BatonAPI(title="Baton API", version="1", urls_namespace="api", auth=DEFAULT_AUTH,
              description="Bearer token (`POST /api/auth/token`) or the web UI's session (with CSRF).")
install_exception_handlers(api)

api.add_router("", org_router)
api.add_router("", "baton.imports.api.router")  # before leads: /api/leads/import is not /api/leads/{id}
api.add_router("", leads_router)
api.add_router("", accounts_router)
api.add_router("", opportunities_router)
api.add_router("", activities_router)
api.add_router("", "baton.capture.api.router")  # /api/intake/<form_key>, /api/events
api.add_router("", "baton.rules.api.router")  # /api/rules/… (tagging, scoring, grade bands, preview, runs)
api.add_router("", "baton.assignment.api.router")  # /api/pools/… (pools, members, absences, board, reassign)
api.add_router("", "baton.conditions.api.router")  # /api/custom-fields/…, /api/conditions/{validate,fields}
api.add_router("", "baton.visits.api.router")  # /api/visits (start, photos, end, counts)
api.add_router("", "baton.scripts.api.router")  # /api/quicklog, /api/script-packs, /api/call-windows
api.add_router("", "baton.reports.api.router")  # /api/pivot, /api/pivot/rows, /api/metrics, exports
api.add_router("", "baton.process.api.router")  # /api/process/compliance, deal signals, required actions
