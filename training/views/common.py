"""What the HTML views of the training side share: a service's errors on a form, and the
create pages' parse -> service -> redirect."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render


def add_service_errors(form: Form, exc: ValidationError) -> None:
    """A service's ValidationError on the form: on the fields it names, else on the form. A form
    with `error_field` picks the field itself (the run form: a hyperparameter's own box)."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for name, errors in exc.error_dict.items():
        head = re.split(r"[.\[]", name, maxsplit=1)[0]  # "hyperparameters.x", "sources[0].model"
        field = form.error_field(name) if hasattr(form, "error_field") else head  # type: ignore[attr-defined]
        messages = [m for e in errors for m in e.messages]
        if field == head != name:  # on the whole field: say which part
            messages = [f"{name}: {m}" for m in messages]
        form.add_error(field if field in form.fields else None, messages)


def create_page(
    request: HttpRequest,
    form: Form,
    create: Callable[..., Any],
    template: str,
    detail: str = "training:loop_job",
) -> HttpResponse:
    """Parse the form, call the service, go to the new object's page (`detail`, a URL name that
    takes its id); or show the form with its errors (400 after a POST)."""
    if request.method == "POST" and form.is_valid():
        try:
            made = create(created_by=request.user, **form.service_arguments())  # type: ignore[attr-defined]
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return redirect(detail, made.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, template, {"form": form}, status=status)
