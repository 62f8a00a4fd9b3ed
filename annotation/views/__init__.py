"""HTML views, one module per area: projects (researchers' pages, imports, exports, labelers),
label (the labeler's workbench) and report (the agreement dashboard). Routes: annotation/urls.py.
"""
