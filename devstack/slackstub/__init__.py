"""A local stand-in for the Slack Web API, for development (`make run`) and tests.

It speaks exactly the methods analytics_pipeline calls through `slack_sdk.WebClient`:

- `auth.test`
- `chat.postMessage`                 (JSON or form body, optional message `metadata`;
                                      returns the channel id and a unique ts)
- `conversations.history`            (channel id only, oldest/latest/inclusive, limit + cursor,
                                      newest first; `metadata` with `include_all_metadata`)
- `users.conversations`              (the channels the bot is a member of)
- `files.getUploadURLExternal`       (hands out an upload URL pointing back at this stub)
- the upload URL itself              (raw POST of the file bytes)
- `files.completeUploadExternal`     (shares the uploaded files, optionally in a thread)

It accepts exactly one bot token, SLACK_BOT_TOKEN from the environment it starts in (any other
gets `invalid_auth`, before any injected fault is played), stores every message and file it
receives (in memory, in `<data-dir>/events.jsonl` and `<data-dir>/files/`), and can play faults
so tests can exercise retries. `GET /` shows what arrived as Slack would show it (bold, code,
links, emoji), grouped by channel and thread, refreshing itself every few seconds.

Like real Slack, channel names are turned into channel ids (`#portal-alerts` -> `C…`); the id
is derived from the name, so it is stable across restarts. The bot is a member of the channels
given with `--channel` (default: SLACK_ALERTS_CHANNEL and SLACK_REPORTS_CHANNEL) and of every
channel it posted to. `files.completeUploadExternal` and `conversations.history` accept only
channel ids (as Slack does).

Control API (for tests and people; no token needed):

    GET  /_stub/health     {"ok": true, ...}
    GET  /_stub/messages   {"messages": [...]}    optional ?channel=<name or id>
    GET  /_stub/files      {"files": [...]}
    GET  /_stub/calls      {"calls": [...]}       every Web API call with its outcome
                                                  (status 0: no HTTP answer, see `note`)
    GET  /_stub/faults     {"faults": {...}, "outages": {...}}
    POST /_stub/faults     {"method": "chat.postMessage", "responses": [FAULT, ...]}
                           queued, one consumed per call of that method ("*": any method)
    POST /_stub/outage     {"method": "*", "fault": FAULT}  every call answers FAULT ...
    POST /_stub/outage     {"method": "*", "fault": null}   ... until this (or a reset)
    POST /_stub/reset      forget everything (messages, files, calls, faults, outages)

A FAULT is one of:

    {"status": 500}                      HTTP 5xx, {"ok": false, "error": "internal_error"}
    {"status": 429, "retry_after": 30}   rate limited, with a Retry-After header
    {"error": "invalid_blocks"}          Slack refuses the call (HTTP 200, ok: false);
                                         "extra": {...} adds fields ("needed": "chat:write")
    {"hang": 30}                         no answer: hold the connection 30 s, then close it
    {"drop": true}                       no answer: close the connection at once
    {"answer_after": 8}                  slow Slack: handle the call now (the message is
                                         stored), answer 8 s later; with "drop": true, never
    {"delay": 2.5}                       wait, then go on as usual (or play the rest)
    "times": n                           (queued faults) the same fault for the next n calls

Held calls (`hang`, `answer_after`) are let go at once by a reset or the end of an outage.

Standard library only, so it runs before any dependency is installed:

    SLACK_BOT_TOKEN=xoxb-… python devstack/slack_stub.py --port 8765 --data-dir .devstack/slack

`--port 0` picks a free port; the first line printed says where it listens.

The package, one job per module: `store` (what was received, journaled), `faults` (the fault
injector), `api` (the Web API methods), `page` (the web page), `server` (routing, the control
API, `main`); `devstack/slack_stub.py` starts it.
"""
