"""Compact journey timelines: what a reader sees of a long journey in one or two lines."""

from analytics_pipeline.report.timeline import compact_timeline, pack_lines, timeline_excerpt


def test_short_journey_is_shown_whole_on_one_line():
    entries = ["03-01 signup login", "03-02 project run×3"]
    assert compact_timeline(entries, width=60, max_lines=2) == [
        "03-01 signup login · 03-02 project run×3"
    ]


def test_long_journey_keeps_the_first_day_and_the_latest_days_within_the_lines_allowed():
    entries = [f"01-{day:02d} run×{day}" for day in range(1, 31)]
    lines = compact_timeline(entries, width=40, max_lines=2)
    assert len(lines) == 2 and all(len(line) <= 40 for line in lines)
    text = " · ".join(lines)
    assert text.startswith("01-01 run×1 · … ")
    assert text.endswith("01-30 run×30")
    hidden = int(text.split("… ")[1].split(" more")[0])
    shown = text.count("run×")
    assert hidden + shown == 30


def test_a_day_longer_than_a_line_is_cut_with_an_ellipsis():
    assert pack_lines(["03-01 " + "run " * 30], width=20) == ["03-01 run run run r…"]


def test_no_actions_gives_no_timeline():
    assert compact_timeline([], width=40, max_lines=2) == []


def test_slack_excerpt_shows_first_two_days_a_gap_and_the_latest_days():
    entries = [f"day {n}" for n in range(1, 41)]
    excerpt = timeline_excerpt(entries, max_entries=15)
    assert len(excerpt) == 15
    assert excerpt[:2] == ["day 1", "day 2"] and excerpt[-1] == "day 40"
    assert excerpt[2] == "… 26 more days …"  # 2 + 26 hidden + 12 latest = 40


def test_when_space_is_tight_the_latest_days_win_over_the_first_day():
    entries = ["01-17 signup login project", *[f"02-{d:02d} deploy✓ run×2" for d in range(1, 20)]]
    (line,) = compact_timeline(entries, width=50, max_lines=1)
    assert line.endswith("02-19 deploy✓ run×2")
    assert line.startswith("… ") and "01-17" not in line
