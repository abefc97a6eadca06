"""What alerts and the daily report share about Slack, free of I/O and of Dagster.

`message` (the text + blocks of one post), `mrkdwn` (escaping user-supplied strings) and
`errors` (what a failed Slack call means: transient, the message, or the setup).
"""

from analytics_pipeline.slack.errors import SlackProblem, classify, configuration_fix
from analytics_pipeline.slack.message import SlackMessage
from analytics_pipeline.slack.mrkdwn import code, code_list, escape

__all__ = [
    "SlackMessage",
    "SlackProblem",
    "classify",
    "code",
    "code_list",
    "configuration_fix",
    "escape",
]
