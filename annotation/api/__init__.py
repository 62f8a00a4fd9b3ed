"""REST API, one module per area: projects (projects, imports, exports, labelers, groups), label
(the labeler's next item, judgments, skips) and report (the cached agreement report). Routes:
annotation/api/urls.py, mounted at /api/.
"""
