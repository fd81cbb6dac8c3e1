"""A lead about to be inserted, as the rule and pool conditions read it: the import computes tags, score,
grade and pool for each row of a chunk on one of these, and `leads.express` does the same for a single new
lead, so that the row is inserted once with its final values instead of inserted and then updated."""

from baton.leads.models import Lead, LeadStatus


class Rel:
    """Stands in for a many-to-many manager on a row that is not in the database yet."""

    __slots__ = ("items",)

    def __init__(self, items):
        self.items = items

    def all(self):
        return self.items


class RowView:
    """What rule and pool conditions read from a lead that is about to be inserted. Lead columns the row
    does not carry fall back to the class attributes (the model defaults), so building one is cheap."""

    def __init__(self, data: dict, now):
        self.__dict__.update(data)
        self.created_at = data.get("created_at") or now
        region = data.get("region")
        self.region_id = getattr(region, "pk", None)
        duplicate_of = data.get("duplicate_of")
        self.duplicate_of_id = getattr(duplicate_of, "pk", None)
        self.industries = Rel(data.get("industries") or [])
        self.tags = NO_TAGS
        self.custom_fields = data.get("custom_fields") or {}


_VIEW_DEFAULTS = {f.attname: (f.get_default() if f.has_default() else None) for f in Lead._meta.concrete_fields}
_VIEW_DEFAULTS.update({"pk": None, "id": None, "owner": None, "owner_id": None, "region": None, "account": None,
                       "contact": None, "duplicate_of": None, "status": LeadStatus.NEW, "score": 0, "grade": ""})
for _name, _value in _VIEW_DEFAULTS.items():
    setattr(RowView, _name, _value)
NO_TAGS = Rel([])
