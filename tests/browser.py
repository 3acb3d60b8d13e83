"""Launching Debian's chromium with Playwright, the one way every browser test does it.

Never a browser Playwright downloads: ``executable_path`` is the system's chromium (``.ci/run``
installs it) and ``PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD`` stays set.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, expect

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
# How long Playwright's expect() waits for a page to show something (its default is 5 s): a bound
# on waiting on a shared 2-core machine, not a speed requirement.
expect.set_options(timeout=15_000)


def launch(playwright: Playwright) -> Browser:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs it (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
