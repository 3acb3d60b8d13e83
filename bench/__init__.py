"""Benchmarks for alert-responder (not tests): ``python -m bench all [--quick]``.

Each benchmark starts what it measures itself (a private redis-server, ``responder
serve`` under gunicorn, ``responder worker`` processes, a baseline or a peer), sends
traffic only to 127.0.0.1, tears everything down and stores its figures; the report
(docs/benchmarks.md and docs/bench/*.png) is written from the stored figures.
"""
