"""Every moment the app writes for people is in UTC and says so, whatever zone the row came back in."""

from datetime import UTC, datetime, timedelta, timezone

from chat3d.domain import dates

MOMENT = datetime(2026, 12, 5, 19, 22, 41, tzinfo=UTC)


def test_each_form_writes_the_moment_in_utc():
    assert dates.stamp(MOMENT) == "2026-12-05 19:22 UTC"
    assert dates.day(MOMENT) == "2026-12-05"
    assert dates.long_day(MOMENT) == "05 December 2026"
    assert dates.long_stamp(MOMENT) == "05 December 2026, 19:22 UTC"


def test_a_moment_in_another_zone_is_written_in_utc():
    tokyo = MOMENT.astimezone(timezone(timedelta(hours=9)))  # 2026-12-06 04:22 there
    assert dates.stamp(tokyo) == "2026-12-05 19:22 UTC"
    assert dates.day(tokyo) == "2026-12-05"


def test_a_naive_moment_from_sqlite_is_taken_as_utc():
    assert dates.long_stamp(MOMENT.replace(tzinfo=None)) == "05 December 2026, 19:22 UTC"


def test_no_moment_writes_nothing():
    assert [dates.stamp(None), dates.day(None), dates.long_day(None), dates.long_stamp(None)] == ["", "", "", ""]
