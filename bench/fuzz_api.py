"""API fuzz run (issue 10): every operation of the OpenAPI schema, valid and invalid requests,
as every persona (labeler, other labeler, researcher, admin, outsider, anonymous), against a
server with the production settings (DEBUG off) on a fresh database. Prints requests, 5xx
responses and schema violations per persona; exits 1 if there is any.

    python bench/fuzz_api.py [--examples 25] [--operations /api/training/]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from wsgiref.simple_server import make_server

from _django import setup


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=25, help="per operation, persona, mode")
    parser.add_argument("--operations", default=None, help="only paths containing this")
    args = parser.parse_args()
    os.environ.setdefault("CHORUS_SECURE", "0")  # plain http on loopback
    os.environ.setdefault("CHORUS_ALLOWED_HOSTS", "127.0.0.1,localhost")
    setup()
    from django.core.servers.basehttp import ThreadedWSGIServer
    from django.core.wsgi import get_wsgi_application
    from django.test.testcases import QuietWSGIRequestHandler

    from tests.factories import ProjectFactory, item_create
    from tests.fuzz import fuzz, personas_create, summary

    personas_create()
    project = ProjectFactory()
    for _ in range(3):
        item_create(project)
    server = make_server(
        "127.0.0.1",
        0,
        get_wsgi_application(),
        server_class=ThreadedWSGIServer,
        handler_class=QuietWSGIRequestHandler,
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{server.server_port}"
    report = fuzz(base_url, max_examples=args.examples, operations=args.operations)
    server.shutdown()
    print(summary(report))
    return 1 if report.findings or any(report.server_errors.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
