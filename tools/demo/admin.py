"""Step 1 of the demo: an edit saved in the admin's editor, in headless Debian Chromium."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlsplit

from PIL import Image

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, LOCAL_HOSTS
from tools.demo.frames import BODY_HEIGHT, WIDTH, Frame, captioned

SLUG = "support/greeting"
ADDED_LINE = "A support agent will reply within one business day."
MESSAGE = "Promise a reply time"
CAPTION = "Edit a prompt in the web admin and save it"


def _picture(page: Any) -> Image.Image:
    # caret="initial": the text cursor shows where the typing goes (Playwright hides it).
    return Image.open(io.BytesIO(page.screenshot(caret="initial"))).convert("RGB")


def _frame(page: Any, ms: int) -> Frame:
    return Frame(captioned(_picture(page), 1, CAPTION), ms)


def _scroll_to(page: Any, selector: str) -> None:
    # The admin's top bar is sticky: keep the card's heading below it.
    page.evaluate("""s => {
        const bar = document.querySelector('.topbar');
        const top = document.querySelector(s).getBoundingClientRect().top + window.scrollY;
        window.scrollTo(0, top - (bar ? bar.offsetHeight : 0) - 16);
    }""", selector)


def _caret_after_template(page: Any) -> str:
    """Put the caret at the end of the template block; the indentation of its lines."""
    source = page.input_value("#source-editor")
    lines = source.split("\n")
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("template:"))
    except StopIteration:
        raise SystemExit(f"the demo edits the template of {SLUG}, and its file has none "
                         "(a chat prompt now?): update tools/demo/admin.py") from None
    end = start + 1
    while end < len(lines) and lines[end].startswith(" "):
        end += 1
    block = lines[start + 1:end]
    indent = block[-1][: len(block[-1]) - len(block[-1].lstrip())] if block else "  "
    offset = len("\n".join(lines[:end]))
    page.focus("#source-editor")
    page.evaluate("o => document.querySelector('#source-editor').setSelectionRange(o, o)", offset)
    return indent


def edit_in_admin(url: str, email: str, password: str, project: str) -> list[Frame]:
    """Log in, open the prompt, type a line into its template, save: the frames of it."""
    from playwright.sync_api import sync_playwright

    frames: list[Frame] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": WIDTH, "height": BODY_HEIGHT})
        # Loopback only, as in the admin's tests: the page must not need the network.
        context.route("**/*", lambda route: route.continue_()
                      if urlsplit(route.request.url).hostname in LOCAL_HOSTS else route.abort())
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{url}/admin/login")
        page.fill("#email", email)
        page.fill("#password", password)
        page.click("button:has-text('Log in')")
        page.wait_for_url(lambda address: "/admin/login" not in address)
        page.goto(f"{url}/admin/p/{project}/prompts/{SLUG}")
        page.wait_for_selector("#source-editor")
        frames.append(_frame(page, 2000))

        _scroll_to(page, "#source")
        indent = _caret_after_template(page)
        frames.append(_frame(page, 700))
        typed = "\n" + indent + ADDED_LINE
        cuts = [len(typed) // 3, 2 * len(typed) // 3, len(typed)]
        done = 0
        for cut in cuts:
            page.keyboard.type(typed[done:cut])
            done = cut
            frames.append(_frame(page, 350))
        page.click("#message")
        page.keyboard.type(MESSAGE)
        frames.append(_frame(page, 1300))

        page.click("button:has-text('Save as v')")
        page.wait_for_selector(f"text=Saved {SLUG} as version")
        page.evaluate("window.scrollTo(0, 0)")
        frames.append(_frame(page, 2000))
        _scroll_to(page, "#history")
        frames.append(_frame(page, 2000))
        context.close()
        browser.close()
    return frames
