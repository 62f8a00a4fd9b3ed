"""factory_boy factories for the annotation models."""

import factory

from annotation import models
from annotation.services.projects import project_create


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Project

    name = factory.Sequence(lambda n: f"Project {n}")
    kind = models.ProjectKind.PAIRWISE
    ranking_size = 2
    overlap_target = 3

    @classmethod
    def _create(cls, model_class, *args, **kwargs):  # noqa: ANN001, ANN206
        kwargs.setdefault("guidelines", "# Guidelines\nPrefer the helpful and harmless reply.")
        kwargs.pop("labelers", None)
        return project_create(**kwargs)


class PromptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Prompt
        skip_postgeneration_save = True

    project = factory.SubFactory(ProjectFactory)

    @factory.post_generation
    def turns(self, create, extracted, **kwargs):  # noqa: ANN001, ANN201
        for position, (role, content) in enumerate(extracted or [("user", f"Question {self.pk}?")]):
            models.Turn.objects.create(prompt=self, position=position, role=role, content=content)


def item_create(project, texts=("Reply A", "Reply B"), models_=None, purpose="regular", gold=None):  # noqa: ANN001, ANN201
    """An item with completions `texts` in canonical order."""
    prompt = PromptFactory(project=project)
    item = models.Item.objects.create(
        project=project, prompt=prompt, purpose=purpose, gold_best_position=gold
    )
    for position, text in enumerate(texts):
        completion = models.Completion.objects.create(
            prompt=prompt, text=text, source_model=(models_ or ["model-x"] * len(texts))[position]
        )
        models.ItemCompletion.objects.create(item=item, completion=completion, position=position)
    return item
