"""Regenerate docs/screenshots/*.png: the dashboard's browser tests save each page they check.

`make screenshots` runs this; the pictures are the real pages of a running dashboard over the
tests' seeded lake, so they change only when the pages do.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "docs" / "screenshots"
TESTS = "analytics_pipeline_tests/dashboard/test_browser.py"


def main() -> int:
    env = {**os.environ, "DASHBOARD_SCREENSHOTS_DIR": str(FOLDER)}
    command = [sys.executable, "-m", "pytest", TESTS, "-q", "-p", "no:cacheprovider"]
    code = subprocess.call(command, cwd=ROOT, env=env)
    if code == 0:
        names = sorted(path.name for path in FOLDER.glob("*.png"))
        print(f"screenshots in {FOLDER.relative_to(ROOT)}: {', '.join(names)}")
    return code


if __name__ == "__main__":
    sys.exit(main())
