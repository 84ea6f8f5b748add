"""TensorBoard event files written twice in one test process."""

from __future__ import annotations

import time


def wait_past(second: int) -> None:
    """Return once the clock's second is past ``second``.

    TensorBoard reads a directory's event files in name order, ``tfevents.<second>.<host>.
    <pid>.<n>``: within one second and process the writer number decides, as text, so writer
    10 sorted before writer 9 and a resumed writer's purge went to the wrong file (a flaky
    failure). A real resume is a later process in a later second; a test that resumes in
    its own process waits for one."""
    while int(time.time()) <= second:
        time.sleep(0.01)
