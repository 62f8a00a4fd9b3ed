from django.contrib import admin

from annotation import models


@admin.register(models.Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "ranking_size", "overlap_target"]


@admin.register(models.LabelerProfile)
class LabelerProfileAdmin(admin.ModelAdmin):
    list_display = ["pseudonym", "user", "attributes", "consent_given_at"]


@admin.register(models.AttributeDefinition)
class AttributeDefinitionAdmin(admin.ModelAdmin):
    list_display = ["name", "question", "asked", "order"]


class GroupRuleInline(admin.TabularInline):
    model = models.GroupRule


@admin.register(models.LabelerGroup)
class LabelerGroupAdmin(admin.ModelAdmin):
    inlines = [GroupRuleInline]
    filter_horizontal = ["members"]


admin.site.register(
    [
        models.GuidelineVersion,
        models.Criterion,
        models.ImportJob,
        models.ExportJob,
        models.GroupQuota,
    ]
)
admin.site.register(models.ProjectReport)
