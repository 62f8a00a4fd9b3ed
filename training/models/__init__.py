"""Training-side models, one module per area: runs (and the worker-job base), generation and
scoring, live inference and conversations, constitutions. Import them from here."""

from training.models.constitutions import (  # noqa: F401
    ConstitutionJob,
)
from training.models.generation import (  # noqa: F401
    CompletionScore,
    GenerationJob,
    GenerationPurpose,
    InferenceEndpoint,
)
from training.models.live import (  # noqa: F401
    REPLY_ACTIVE,
    Conversation,
    ConversationStatus,
    ConversationTurn,
    InferenceSource,
    LiveConfig,
    ReplyStatus,
    ReplyStream,
    SourceKind,
    TurnStatus,
)
from training.models.runs import (  # noqa: F401
    ACTIVE_STATUSES,
    POLICY_KINDS,
    RANDOM_RULE,
    REWARD_RULES,
    TRAINER_LOG,
    BothBadPolicy,
    RunKind,
    RunMetric,
    RunStatus,
    TiePolicy,
    TrainingRun,
    WorkerJob,
)
