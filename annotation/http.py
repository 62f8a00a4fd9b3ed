"""The request type of views that read `request.htmx` (set by django-htmx's middleware).

Both apps type such views with `HtmxHttpRequest`, as django-htmx documents, so that
`request.htmx` is checked like any other attribute.
"""

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails
