"""The stage PDF's fixed-width listing lines."""

from datetime import UTC, datetime

from analytics_pipeline.report.listing import (
    ENTERED_MARK,
    LINE_WIDTH,
    header_line,
    listing_blocks,
    user_lines,
)
from analytics_pipeline.report.model import StageUser


def _user(user_id: str, *, entered: bool = False, timeline: tuple[str, ...] = ()) -> StageUser:
    return StageUser(
        user_id=user_id,
        stage="active",
        entered_today=entered,
        signed_up_at=datetime(2026, 1, 2, 9, tzinfo=UTC),
        signup_inferred=True,
        last_meaningful_at=datetime(2026, 3, 4, 10, 11, tzinfo=UTC),
        last_seen_at=None,
        meaningful_days=2,
        timeline=timeline,
    )


def test_user_line_aligns_with_the_header_columns():
    (line,) = user_lines(_user("ada", entered=True, timeline=("03-04 run",)))
    header = header_line()
    assert line.startswith(ENTERED_MARK + " ada")
    assert line.index("2026-01-02*") == header.index("signed up")
    assert line.index("2026-03-04 10:11") == header.index("last meaningful")
    assert line.index("03-04 run") == header.index("journey")


def test_long_user_id_is_listed_whole_on_lines_of_its_own():
    long_id = "u" * 300
    lines = user_lines(_user(long_id))
    assert "".join(line.strip() for line in lines[:-1]) == long_id
    assert all(len(line) <= LINE_WIDTH for line in lines)
    assert "2026-01-02*" in lines[-1]


def test_control_characters_in_user_ids_cannot_break_the_columns():
    (line,) = user_lines(_user("evil\nid\tx"))
    assert "evil?id?x" in line and "\n" not in line


def test_large_listings_are_split_into_blocks_without_splitting_a_user():
    users = [_user(f"user-{n}", timeline=("03-01 run",) * 40) for n in range(100)]
    blocks = listing_blocks(users, timeline_lines=2, lines_per_block=7)
    assert all(len(block.split("\n")) <= 7 for block in blocks)
    assert sum(block.count("user-") for block in blocks) == 100
    assert all(block.split("\n")[0].lstrip().startswith("user-") for block in blocks)
