"""Hides the installed hiredis from a responder measured as an older checkout that did not install it.

redis-py uses hiredis whenever it can import it, so without this the "before" of a benchmark
would run with a parser it never had. :func:`bench.procs.python_path` puts this directory first
on such a checkout's ``PYTHONPATH``; redis-py treats the ImportError as "not installed".
"""

raise ImportError("hiredis is hidden: the checkout measured did not install it")
