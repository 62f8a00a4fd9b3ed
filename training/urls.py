"""HTML pages of the training side: runs, generation jobs, evaluations, lineage. The URL names
keep their paths' words (`loop_...` for the pages under /training/loop/)."""

from django.urls import path

from training.views import arena, evaluation, generation, lineage, live, preferences, runs

app_name = "training"
urlpatterns = [
    path("", runs.run_list, name="run_list"),
    path("new/", runs.run_new, name="run_new"),
    path("<int:run_id>/", runs.run_detail, name="run_detail"),
    path("<int:run_id>/cancel/", runs.run_cancel_view, name="run_cancel"),
    path("<int:run_id>/control/", runs.run_control_view, name="run_control"),
    path("<int:run_id>/download/", runs.run_download, name="run_download"),
    path("<int:run_id>/log/", runs.run_log, name="run_log"),
    path("<int:run_id>/log/download/", runs.run_log_file, name="run_log_file"),
    path("<int:run_id>/lineage/", lineage.lineage_page, name="loop_lineage"),
    path("loop/", generation.generation_jobs, name="loop_index"),
    path("loop/jobs/new/", generation.generation_job_new, name="loop_job_new"),
    path("loop/evaluations/new/", evaluation.evaluation_new, name="loop_evaluation_new"),
    path("loop/scoring/new/", generation.scoring_job_new, name="loop_scoring_new"),
    path("loop/jobs/<int:job_id>/", generation.generation_job, name="loop_job"),
    path(
        "loop/jobs/<int:job_id>/cancel/",
        generation.generation_job_cancel_view,
        name="loop_job_cancel",
    ),
    path("loop/projects/<int:project_id>/", evaluation.evaluation_report, name="loop_report"),
    path("loop/arena/", arena.arena_leaderboard, name="arena"),
    # live conversations (issue 16): labelers' pages, and a project's live settings
    path("live/projects/<int:project_id>/", live.live_home, name="live_home"),
    path("live/projects/<int:project_id>/start/", live.live_start, name="live_start"),
    path("live/projects/<int:project_id>/settings/", live.live_config, name="live_config"),
    path(
        "live/projects/<int:project_id>/conversations/",
        live.live_conversations,
        name="live_conversations",
    ),
    path("live/<int:conversation_id>/", live.live_conversation, name="live_conversation"),
    path("live/<int:conversation_id>/say/", live.live_say, name="live_say"),
    path("live/<int:conversation_id>/end/", live.live_end, name="live_end"),
    path("live/turns/<int:turn_id>/judge/", live.live_judge, name="live_judge"),
    path("live/turns/<int:turn_id>/stop/", live.live_stop, name="live_stop"),
    path(
        "projects/<int:project_id>/whose-preferences/",
        preferences.whose_preferences_page,
        name="whose_preferences",
    ),
    path(
        "projects/<int:project_id>/constitutions/new/",
        preferences.constitution_job_new,
        name="constitution_new",
    ),
    path(
        "constitutions/<int:job_id>/cancel/",
        preferences.constitution_job_cancel_view,
        name="constitution_cancel",
    ),
]
