"""Every read that needs access rules or more than one query, one module per area:

- projects: projects and import/export jobs as a user may see them (404 for outsiders)
- labelers: labeler group membership, the admin's labeler list
- labeling: the labeler's project, item, blind item view and progress
- reports: a project's judgments as report arrays, the cached report, one item's votes
"""
