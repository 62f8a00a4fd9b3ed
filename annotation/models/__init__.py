"""The preference data model: projects, prompts, completions, items, judgments, labelers.

Vocabulary
- A *project* is one labeling effort with one kind of work (pairwise, ranking, demonstration).
- A *prompt* is a conversation (one or more turns) that ends where the model should answer.
- A *completion* is one candidate answer to a prompt; its source model is hidden from labelers.
- An *item* is what a labeler judges: a prompt with 2..9 of its completions in a fixed
  canonical order (`ItemCompletion.position`); labelers see them in a shuffled display order.
- A *judgment* is one labeler's (or an external source's) verdict on one item.

All choices are stored in canonical positions: for pairwise, "A" is position 0 and "B" is
position 1, whatever side the labeler saw them on; `Judgment.display_order` records that.

One module per part: projects, items, judgments, labelers, onboarding, jobs, review, written.
"""

from annotation.models.items import (
    Completion,
    Item,
    ItemCompletion,
    ItemPurpose,
    Prompt,
    Role,
    Turn,
)
from annotation.models.jobs import (
    ExportFormat,
    ExportJob,
    FileJob,
    ImportFormat,
    ImportJob,
    JobStatus,
    ProjectReport,
)
from annotation.models.judgments import (
    SCALE_LABELS,
    CompletionFlag,
    CriterionRating,
    FlagKind,
    Judgment,
    JudgmentRank,
    JudgmentRevision,
    JudgmentSource,
    PairwiseChoice,
    Reservation,
    Skip,
)
from annotation.models.labelers import (
    ATTRIBUTE_VALUE_CHARS,
    AttributeDefinition,
    ConsentSource,
    GroupQuota,
    GroupRule,
    LabelerGroup,
    LabelerProfile,
    attributes_clean,
    new_pseudonym,
)
from annotation.models.onboarding import (
    PLATFORM_ID_CHARS,
    PLATFORM_PARAMETERS,
    AuditAction,
    ConsentVersion,
    LabelerAuditEvent,
    LinkKind,
    PlatformIdentity,
    RecruitmentArrival,
    RecruitmentLink,
)
from annotation.models.projects import (
    AdjudicationUse,
    Criterion,
    GuidelineVersion,
    Project,
    ProjectKind,
)
from annotation.models.review import Adjudication, AdjudicationStatus, ReviewReason
from annotation.models.written import WrittenPrompt, WrittenPromptKind, WrittenPromptStatus

__all__ = [
    "AdjudicationUse",
    "Adjudication",
    "WrittenPrompt",
    "WrittenPromptKind",
    "WrittenPromptStatus",
    "AdjudicationStatus",
    "ReviewReason",
    "ProjectKind",
    "Project",
    "GuidelineVersion",
    "Criterion",
    "Prompt",
    "Role",
    "Turn",
    "Completion",
    "ItemPurpose",
    "Item",
    "ItemCompletion",
    "JudgmentSource",
    "PairwiseChoice",
    "SCALE_LABELS",
    "Judgment",
    "JudgmentRank",
    "JudgmentRevision",
    "CriterionRating",
    "FlagKind",
    "CompletionFlag",
    "Reservation",
    "Skip",
    "new_pseudonym",
    "ATTRIBUTE_VALUE_CHARS",
    "AttributeDefinition",
    "attributes_clean",
    "ConsentSource",
    "LabelerProfile",
    "LabelerGroup",
    "GroupRule",
    "GroupQuota",
    "LinkKind",
    "PLATFORM_PARAMETERS",
    "PLATFORM_ID_CHARS",
    "RecruitmentLink",
    "PlatformIdentity",
    "RecruitmentArrival",
    "ConsentVersion",
    "AuditAction",
    "LabelerAuditEvent",
    "JobStatus",
    "ImportFormat",
    "FileJob",
    "ImportJob",
    "ExportFormat",
    "ExportJob",
    "ProjectReport",
]
