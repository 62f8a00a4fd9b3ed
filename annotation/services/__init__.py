"""Every write goes through a named service in one of these modules:

- projects: project_create, guidelines_update, criterion_create
- items:    prompts_create, prompts_copy, completions_create, items_create (the only writer of
            prompts, completions, items and their slots; imports and training's generation use it)
- labelers: user_create, labeler_profile_update, labeler_deactivate, labeler_reactivate,
            labeler_group_create, labeler_group_update, labeler_group_members_change,
            labeler_group_delete
- access:   project_access_update, reservations_release_lost_access (who may label a project)
- recruitment: recruitment_link_create/_deactivate, recruitment_arrive (study links),
            recruitment_signup (open sign-up), recruitment_finish
- consent:  consent_version_create, consent_give, consent_withdraw
- attributes: attribute_definition_save/_delete, labeler_attributes_answer (the questionnaire)
- audit:    labeler_audit_event_record (written by consent, attributes and recruitment)
- imports:  import_job_create, items_import
- exports:  export_job_create, export_run, export_rows
- judgments, queue: the workbench (judgment_submit, item reservation, skips)
- reports, screening: the agreement report job and screening decisions
- demo: demo_seed

Reads with access rules are in annotation.selectors.
"""
