from django.conf import settings


def baton(request):
    return {"BATON_LANGUAGES": settings.LANGUAGES}
