"""Debian's Chromium, driven by Playwright for Python.

Playwright cannot download its own browser builds here, so it launches /usr/bin/chromium
(`apt-get install chromium`), headless, with everything that would reach out to the
network switched off.
"""

from __future__ import annotations

import os

CHROMIUM = os.environ.get("BROWSER_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-dev-shm-usage"]
VIEWPORT = {"width": 1280, "height": 800}


def launch(playwright):
    """A headless Chromium browser; the caller closes it."""
    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError(f"{CHROMIUM} not found: `apt-get install chromium` "
                           "(Playwright cannot download browsers here)")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)


def new_page(browser):
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    return context.new_page()
