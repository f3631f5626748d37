"""The share dialog's pure helpers: the owner's expiry wording and the expiry choice -> create_share arguments."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from chat3d.state.versions import EXPIRY_CHOICES, expiry_from_choice, expiry_label

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=timezone.utc)


def test_expiry_label_reads_like_a_person_would_say_it() -> None:
    assert expiry_label(None, now=NOW) == "Never expires"
    assert expiry_label(NOW + timedelta(days=7) - timedelta(seconds=5), now=NOW) == "Expires in 7 days (29 Nov 2026)"
    assert expiry_label(NOW + timedelta(days=6, hours=1), now=NOW) == "Expires in 6 days (28 Nov 2026)"
    assert expiry_label(NOW + timedelta(days=1), now=NOW) == "Expires in 1 day (23 Nov 2026)"
    assert expiry_label(NOW + timedelta(hours=5), now=NOW) == "Expires in 5 hours (22 Nov 2026)"
    assert expiry_label(NOW + timedelta(seconds=30), now=NOW) == "Expires in 1 minute (22 Nov 2026)"
    assert expiry_label(NOW - timedelta(days=2), now=NOW) == "Expired 20 Nov 2026"
    assert expiry_label((NOW - timedelta(days=2)).replace(tzinfo=None), now=NOW) == "Expired 20 Nov 2026"  # naive = UTC
    assert expiry_label(NOW + timedelta(days=3), revoked=True, now=NOW) == ""


def test_expiry_choice_to_days_or_a_moment() -> None:
    today = date(2026, 11, 22)
    assert EXPIRY_CHOICES[0] == "Never" and expiry_from_choice("Never", "", today) == (None, None)
    assert expiry_from_choice("7 days", "2030-01-01", today) == (7, None)
    assert expiry_from_choice("30 days", "", today) == (30, None)
    # A date lasts to the end of that day, UTC; today is allowed.
    assert expiry_from_choice("On a date", "2026-12-24", today) == (None, datetime(2026, 12, 25, tzinfo=timezone.utc))
    assert expiry_from_choice("On a date", "2026-11-22", today)[1] == datetime(2026, 11, 23, tzinfo=timezone.utc)
    for choice, value, message in [("On a date", "", "Choose the date"), ("On a date", "2026-11-21", "in the future"),
                                   ("On a date", "21/11/2026", "not a date"), ("Forever", "", "Choose when")]:
        with pytest.raises(ValueError, match=message):
            expiry_from_choice(choice, value, today)
