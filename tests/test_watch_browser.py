"""``keisei watch`` in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, installed by ./scripts/test) driven by Selenium, against a real tiny
training run that is still going.

The page shows the run's current step and follows it, a new evaluation appears without a
reload, a game replays to its last move and shows the position cshogi reaches for that
record, and path traversal is refused. With ``KEISEI_WATCH_SCREENSHOT=FILE`` the test also
saves a screenshot of the page there (scripts/watch-screenshot: docs/images/watch.png).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cshogi
import pytest

from keisei.evaluation.ratings import RatingTable
from keisei.game.records import read_record
from tests.conftest import read_events, wait_for_event
from tests.watchutil import Watch

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1700",
)

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    reason = f"needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)"
    if os.environ.get("CI"):
        raise RuntimeError(f"the browser tests run in CI: {reason}")
    pytest.skip(reason, allow_module_level=True)

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402


def until(condition: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"not within {timeout} s: {what}")


@pytest.fixture
def training(tmp_path: Path) -> Iterator[Path]:
    """A tiny run that goes on for as long as the test: an evaluation every 512 steps."""
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "keisei", "train", "--preset", "tiny", "--run-dir", str(run),
            "--total-steps", "100000000", "evaluation.enabled=true",
            "evaluation.every_steps=512", "evaluation.games=2", "evaluation.past_checkpoints=0",
            "logging.record_every_episodes=1", "logging.tensorboard=false",
            "checkpoint.every_steps=1024",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_event(run, "evaluation")
        yield run
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium'}")
    # The driver is named: Selenium Manager downloads nothing.
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


def newest_step(run: Path) -> int:
    return max(e["step"] for e in read_events(run) if isinstance(e.get("step"), int))


def test_the_page_follows_a_running_training(training: Path, browser: Any) -> None:

    def js(expression: str) -> Any:  # read the DOM in one step: the page redraws as it polls
        return browser.execute_script(f"return {expression}")

    def click(selector: str) -> None:
        browser.execute_script(f"document.querySelector({selector!r}).click()")

    with Watch(str(training)) as watch:
        step_before = newest_step(training)
        browser.get(watch.url)
        browser.execute_script("window.loadedOnce = true")  # gone if the page reloads

        def shown_step() -> int:
            return int(js("document.getElementById('step-0')?.dataset.step ?? -1"))

        first = until(lambda: shown_step() >= step_before and shown_step(), what="the step")
        assert first <= newest_step(training)
        assert js("document.querySelector('#status .state').textContent") == "running"
        until(lambda: shown_step() > first, what="the step to advance")

        def rows() -> list[int]:
            steps = js(
                "[...document.querySelectorAll('#evaluations tbody tr')].map(r => r.dataset.step)"
            )
            return [int(step) for step in steps]

        seen = until(rows, what="an evaluation")
        newer = until(lambda: [s for s in rows() if s > max(seen)], what="a new evaluation")
        evaluated = {e["step"] for e in read_events(training) if e["kind"] == "evaluation"}
        assert set(newer) <= evaluated
        assert js("window.loadedOnce") is True
        assert js("document.getElementById('rating-scale').hidden") is True

        # A game, replayed to its last move: the position cshogi reaches for its record.
        record = training / js("document.querySelector('#games li').dataset.record")
        click("#games li")
        ply = "document.getElementById('board').dataset.ply"
        until(lambda: js(ply) == "0", what="the game's start")
        click("#next")
        until(lambda: js(ply) == "1", what="the first move")
        click("#last")
        game = read_record(record)[0]
        board = cshogi.Board(game.start_sfen)
        for move in game.moves:
            board.push(move)
        until(lambda: js(ply) == str(len(game.moves)), what="the last move")
        assert js("document.getElementById('board').dataset.sfen") == board.sfen()
        usi = js(
            "[...document.querySelectorAll('#moves tbody tr')].map(r => r.cells[2].textContent)"
        )
        assert usi == [cshogi.move_to_usi(m) for m in game.moves]
        until(lambda: js("document.getElementById('board-img').naturalWidth"), what="the board")

        # Path traversal, from the page and as a raw request: refused.
        status = browser.execute_async_script(
            "fetch('/api/runs/0/files/%2e%2e/config.yaml').then(r => arguments[0](r.status))"
        )
        assert status == 404
        assert watch.request("/api/runs/0/files/games/../config.yaml")[0] == 404

        if os.environ.get("KEISEI_WATCH_SCREENSHOT"):
            _screenshot(browser, Path(os.environ["KEISEI_WATCH_SCREENSHOT"]), len(game.moves))
        assert watch.stop() == (130, "keisei watch: stopped (SIGINT)\n")

    # Two runs whose ratings are on different scales (the second's table also holds a
    # ladder rung fixed): one axis shows the first, the other is named under the chart.
    other = training.parent / "rung-run"
    other.mkdir()
    for name in ("config.yaml", "events.jsonl", "ratings.json"):
        shutil.copy(training / name, other / name)
    table = RatingTable.load(other)
    table.add_result(table.players[-1], "ladder:fs-skill-4-n1000", 0, 2, 0)
    table.save(other)
    signature = "state.charts.rating?.signature"
    with Watch(str(training), str(other)) as watch:
        browser.get(watch.url)
        note = "document.getElementById('rating-scale').textContent"
        until(lambda: js(note), what="the note on scales")
        assert js(note) == (
            "Not drawn, on another scale: rung-run (fixes ladder:fs-skill-4-n1000 = 1753, "
            "random = 0). Drawn: the runs that fix what run fixes (random = 0)."
        )
        until(lambda: js(signature) == "step|run|low|high", what="the first run's curve")
        click("#runs input")  # hide the first run: the second is drawn, on its own scale
        until(lambda: js(signature) == "step|rung-run|low|high", what="the second's curve")
        assert js("document.getElementById('rating-scale').hidden") is True
        assert watch.stop() == (130, "keisei watch: stopped (SIGINT)\n")


def _screenshot(browser: Any, path: Path, plies: int) -> None:
    """The page with a game at its middle and the network's view of it."""
    browser.execute_script(
        "const s = document.getElementById('checkpoint'); s.value = s.options[s.length - 1].value;"
        "s.dispatchEvent(new Event('change'));"
        f"document.getElementById('first').click(); for (let i = 0; i < {plies // 2}; i++)"
        " document.getElementById('next').click();"
    )
    text = "document.getElementById('analysis').textContent"
    until(lambda: "value" in browser.execute_script(f"return {text}"), what="the analysis")
    time.sleep(0.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    browser.save_screenshot(str(tmp))
    shutil.move(tmp, path)
