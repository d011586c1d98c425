"""The demo page (clients/browser/demo, served by wslocal.browser_demo) in headless Chromium,
in front of the stand-in stack: its terminal shows each stream message with its seq, and
keeps its output, each line once and in order, across a forced network drop."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import StandInPage

pytestmark = pytest.mark.browser


def terminal(page: Any) -> list[tuple[int, str]]:
    lines: list[list[Any]] = page.evaluate(
        """() => [...document.querySelectorAll('#terminal li')].map(
             (li) => [Number(li.dataset.seq), li.lastChild.textContent])"""
    )
    return [(seq, text) for seq, text in lines]


def test_the_terminal_keeps_its_output_across_a_forced_reconnect(
    standin_page: StandInPage, tmp_path: Path
) -> None:
    page, standin = standin_page.page, standin_page.standin
    page.fill("#keepalive", "2")
    page.click("#connect")
    page.wait_for_selector("#resume[data-resume='resumed']")
    assert page.text_content("#protocol") == "bearer"

    page.fill("#command", "uname -a")
    page.click("#send-command")
    page.click("#push")
    page.wait_for_function("document.querySelectorAll('#terminal li').length === 2")

    page.click("#drop")  # the gateway's fault endpoint: no close frame, the client reconnects
    page.click("#push")  # while it reconnects: kept by the backend, replayed on resume
    page.wait_for_function("document.getElementById('connections').textContent === '2'")
    page.wait_for_selector("#resume[data-resume='resumed']")
    page.fill("#command", "ls")
    page.click("#send-command")
    page.wait_for_function("document.querySelectorAll('#terminal li').length === 4")

    assert terminal(page) == [
        (1, "$ uname -a\nuname -a"),
        (2, "hello from the backend #1"),
        (3, "hello from the backend #2"),
        (4, "$ ls\nls"),
    ]
    assert page.text_content("#last-seq") == "4"
    log = page.text_content("#log") or ""
    assert "close  code 1006, reconnecting" in log
    assert "reconnected" in log
    assert len(standin.handshakes) == 2

    # docs/browser-demo.png is taken this way: BROWSER_DEMO_SCREENSHOT=docs/browser-demo.png
    target = Path(os.environ.get("BROWSER_DEMO_SCREENSHOT") or tmp_path / "browser-demo.png")
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 10_000
