"""The "Making data count" run rules on hand-made series, edge cases included."""

from __future__ import annotations

from bot.report.runrules import analyse, find_shifts, find_trends


def spans(runs) -> list[tuple[str, int, int, int]]:  # type: ignore[no-untyped-def]
    return [(r.direction, r.start, r.end, r.points) for r in runs]


def test_six_points_on_one_side_are_a_shift_five_are_not() -> None:
    assert spans(find_shifts([1, 2, 1, 2, 1, 2, 9], median=5)) == [("below", 0, 5, 6)]
    assert find_shifts([1, 2, 1, 2, 1, 9, 9], median=5) == []
    assert spans(find_shifts([9, 8, 9, 8, 9, 8, 9, 8], median=5)) == [("above", 0, 7, 8)]


def test_a_point_on_the_median_neither_counts_nor_breaks_a_shift() -> None:
    # Five below, one on the median, one more below: still six counted, the median point skipped.
    [run] = find_shifts([1, 2, 1, 5, 2, 1, 2], median=5)
    assert (run.direction, run.points, run.indices) == ("below", 6, (0, 1, 2, 4, 5, 6))
    # Five below, then median points: still only five, no shift.
    assert find_shifts([1, 2, 1, 2, 1, 5, 5, 5], median=5) == []
    # A point on the other side does break it.
    assert find_shifts([1, 2, 1, 9, 2, 1, 2], median=5) == []


def test_five_rising_or_falling_points_are_a_trend_four_are_not() -> None:
    assert spans(find_trends([1, 2, 3, 4, 5])) == [("rising", 0, 4, 5)]
    assert find_trends([1, 2, 3, 4]) == []
    assert spans(find_trends([9, 7, 5, 3, 1, 2])) == [("falling", 0, 4, 5)]


def test_repeated_values_neither_add_to_nor_break_a_trend() -> None:
    assert find_trends([1, 2, 2, 3, 4]) == []  # four distinct values
    assert spans(find_trends([1, 2, 2, 3, 4, 5])) == [("rising", 0, 5, 5)]
    assert spans(find_trends([5, 4, 4, 4, 3, 2, 1])) == [("falling", 0, 6, 5)]


def test_the_turning_point_belongs_to_both_runs() -> None:
    assert spans(find_trends([1, 2, 3, 4, 5, 4, 3, 2, 1])) == [
        ("rising", 0, 4, 5),
        ("falling", 4, 8, 5),
    ]
    # A plateau at the top: the falling run starts at its first point.
    assert spans(find_trends([1, 2, 3, 4, 5, 5, 4, 3, 2, 1])) == [
        ("rising", 0, 5, 5),
        ("falling", 4, 9, 5),
    ]


def test_fewer_than_ten_points_get_a_median_but_no_signals() -> None:
    result = analyse([1, 2, 3, 4, 5, 6, 7, 8, 9])
    assert result.median == 5 and not result.applied and result.signals == ()
    assert analyse([]).median is None


def test_ten_points_apply_the_rules() -> None:
    result = analyse(list(range(1, 11)))
    assert result.applied and result.median == 5.5
    assert result.shifts == ()  # five each side of the median: not six
    assert spans(result.trends) == [("rising", 0, 9, 10)]


def test_ties_on_the_median_in_a_whole_series() -> None:
    # The median is 2: every 2 is skipped, and four 9s are too few for a shift.
    result = analyse([2, 2, 2, 9, 2, 9, 2, 9, 2, 9, 2, 2])
    assert result.median == 2 and result.applied and result.shifts == ()
    # Six points above a median of 2, interleaved with points on it: a shift of six.
    result = analyse([1, 2, 9, 2, 9, 9, 2, 9, 9, 9, 1, 1, 1, 1])
    assert result.median == 2
    assert spans(result.shifts) == [("above", 2, 9, 6)]
