"""One definition of a run's fields: the HTML form is RunInput's widgets, validated by RunInput;
hyperparameters are typed against the trainer's config before they reach run_config."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.http import QueryDict

from training.forms.runs import RunForm, RunInput
from training.services.runs import Hyperparameters, hyperparameters_parse

pytestmark = pytest.mark.django_db


def test_the_form_renders_exactly_the_spec_fields_with_its_defaults():
    form, spec = RunForm(), RunInput()
    assert [n for n in form.fields if not n.startswith("hp_")] == list(spec.fields)
    assert form.fields["include_external"].initial is True
    assert form.fields["tie_policy"].initial == spec.fields["tie_policy"].default == "skip"
    assert form.fields["include_external"].label == spec.fields["include_external"].label


def test_the_form_and_the_api_give_the_service_the_same_arguments(judged_project):
    common = {"kind": "dpo", "base_model": "org/model", "projects": [judged_project.pk]}
    html = QueryDict(mutable=True)
    html.update({**common, "projects": str(judged_project.pk), "include_external": "on"})
    html["hyperparameters"] = '{"beta": 0.2}'
    form = RunForm(html)
    api = RunInput(data={**common, "hyperparameters": {"beta": 0.2}})
    assert form.is_valid(), form.errors
    assert api.is_valid(), api.errors
    assert form.cleaned_data == dict(api.validated_data)
    assert form.cleaned_data["hyperparameters"] == Hyperparameters("dpo", {"beta": 0.2})


def test_an_unticked_checkbox_is_false_in_the_form(judged_project):
    html = QueryDict(mutable=True)
    html.update({"kind": "reward", "base_model": "m", "projects": str(judged_project.pk)})
    form = RunForm(html)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["include_external"] is False  # the API's default is True


def test_errors_name_the_field_in_both(judged_project):
    html = QueryDict(mutable=True)
    html.update({"kind": "dpo", "base_model": "m", "projects": str(judged_project.pk)})
    html["hyperparameters"] = '{"betaa": 1}'
    form = RunForm(html)
    assert not form.is_valid() and "did you mean 'beta'" in form.errors["hyperparameters"][0]
    api = RunInput(data={"kind": "dpo", "base_model": "m", "projects": [judged_project.pk],
                         "hyperparameters": "[1]"})  # fmt: skip
    assert not api.is_valid() and "JSON object" in str(api.errors["hyperparameters"])


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"lr": 1e-5}, "did you mean 'learning_rate'"),
        ({"batch_size": "8"}, "'batch_size' must be int"),
        ({"per_group": True}, "on the run"),
    ],
)
def test_hyperparameters_are_checked_by_name_and_type(values, message):
    with pytest.raises(ValidationError, match=message) as caught:
        hyperparameters_parse(kind="reward", values=values)
    assert list(caught.value.message_dict) == [f"hyperparameters.{next(iter(values))}"]
