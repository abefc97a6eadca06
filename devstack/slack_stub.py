"""Start the local Slack stub (the `slackstub` package beside this file); see its docstring.

    SLACK_BOT_TOKEN=xoxb-… python devstack/slack_stub.py --port 8765 --data-dir .devstack/slack

Standard library only, so it runs before any dependency is installed. devstack/slack.sh and the
tests start it by this path (and find its process by this file name).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from slackstub.server import main

if __name__ == "__main__":
    sys.exit(main())
