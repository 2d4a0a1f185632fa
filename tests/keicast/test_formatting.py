"""The one formatting policy: known answers (issue #16) and its edges."""

import math

import pytest

from keicast import formatting as fmt


@pytest.mark.parametrize(
    "value, expected",
    [
        (76_075, "76k"),
        (16_000_000, "16M"),
        (152_866, "153k"),
        (1_852, "1.9k"),
        (950, "950"),
        (9_845, "9.8k"),
        (999_999, "1M"),
        (1_000, "1k"),
        (0, "0"),
        (-24_622, "-25k"),
        (7.34, "7"),
        (2.5e9, "2.5B"),
        (None, "–"),
        (math.nan, "–"),
    ],
)
def test_counts_have_two_significant_figures_and_a_suffix(value, expected):
    assert fmt.count(value) == expected


def test_a_count_under_ten_is_whole_and_shares_and_money_keep_their_figures():
    assert [fmt.count(v) for v in (3.3, 1.5, 9.6, -3.3)] == ["3", "2", "10", "-3"]
    assert fmt.count(12.35, 3) == "12" and fmt.by_unit(12.35, "vehicles/year") == "12.4"  # a forecast; an input
    assert fmt.money(3.3) == "$3.3" and fmt.share(0.033) == "3.3%" and fmt.number(3.3) == "3.3"


@pytest.mark.parametrize(
    "value, expected", [(0.00012, "0.012%"), (1 / 3, "33%"), (0.004, "0.4%"), (0, "0%"), (0.0525, "5.3%")]
)
def test_shares_are_percentages(value, expected):
    assert fmt.share(value) == expected


def test_years_money_numbers_and_changes():
    assert fmt.year(1997) == "1997" and fmt.year(2030.0) == "2030"
    assert fmt.money(10_000) == "$10k" and fmt.money(50_326) == "$50k"
    assert fmt.number(0.38) == "0.38" and fmt.number(-2.0) == "-2" and fmt.number(660) == "660"
    assert fmt.signed_percent(0.053) == "+5.3%" and fmt.signed_percent(-0.2) == "-20%"


def test_a_value_without_a_unit_is_a_plain_number():
    assert fmt.by_unit(0.333, None) == fmt.by_unit(0.333, float("nan")) == fmt.by_unit(0.333, "") == "0.333"


def test_every_kind_of_missing_value_is_missing():
    import numpy as np
    import pandas as pd

    for value in (None, math.nan, np.float32("nan"), pd.NA, pd.NaT):
        assert fmt.count(value) == fmt.number(value) == fmt.share(value) == fmt.year(value) == fmt.MISSING
    assert not fmt.is_missing(0) and not fmt.is_missing("–")


def test_moments_are_shown_to_the_second():
    from datetime import datetime

    import pandas as pd

    assert fmt.moment(pd.Timestamp("2026-12-04 19:44:24.610388")) == "2026-12-04 19:44:24"
    assert fmt.moment(datetime(2026, 12, 4, 19, 44, 24, 610388)) == "2026-12-04 19:44:24"
    assert fmt.moment("2026-12-04 19:44:24.610388") == "2026-12-04 19:44:24"
    assert fmt.moment(None) == fmt.moment(pd.NaT) == fmt.MISSING


@pytest.mark.parametrize(
    "unit, value, expected",
    [
        ("fraction of new-vehicle sales", 0.3333, "33.3%"),
        ("fraction of import value", 0.275, "27.5%"),  # a sourced duty as stated, not "28%"
        ("USD", 50_326, "$50.3k"),
        ("USD per vehicle", 1500, "$1.5k"),
        ("model year", 1997, "1997"),
        ("vehicles/year", 16_000_000, "16M"),
        ("per year", 0.0321, "0.0321"),
        ("probability no maker launches within the horizon", 0.35, "35%"),  # the report's P(no launch)
        ("ceiling above the 2023 count (fraction)", 0.5, "50%"),
    ],
)
def test_values_are_formatted_by_their_register_unit(unit, value, expected):
    assert fmt.by_unit(value, unit) == expected


@pytest.mark.parametrize(
    "show, value, expected",
    [
        (fmt.count, 0.000038, "under 1"),  # "about 0.000038 new kei cars" (issue #23)
        (fmt.count, -0.4, "over -1"),
        (fmt.count, 16_100_000, "16M"),
        (fmt.count, 3.86e18, "over 999T"),
        (fmt.count, 4.2e12, "4.2T"),
        (fmt.number, 16_100_000, "16.1M"),
        (fmt.number, 3.86e18, "over 999T"),  # a CRPS that printed as 3.86e+18
        (fmt.number, 1.0042, "1"),
        (fmt.number, 12.345, "12.3"),
        (fmt.number, 0.0012345, "0.00123"),
        (fmt.number, 0.0002, "<0.001"),
        (fmt.number, -0.0002, ">-0.001"),
        (fmt.number, 65_536, "65.5k"),
        (fmt.share, 1e-7, "<0.001%"),
        (fmt.share, 0.000012345, "0.0012%"),
        (fmt.share, 3.86e18, "over 999T%"),
        (fmt.share, 12.3, "1.2k%"),
        (fmt.signed_percent, -0.0428, "-4.3%"),
        (fmt.signed_percent, 1e-7, "<0.001%"),
        (fmt.number, 999.7, "1k"),  # rounds into the next suffix, not "1000"
        (fmt.number, -999.7, "-1k"),
        (fmt.number, 999.4, "999"),
        (fmt.share, 9.9999, "1k%"),  # not "1000%"
        (fmt.share, 9.99, "999%"),
        (fmt.money, -25_000, "-$25k"),  # the sign before the dollar, not "$-25k"
    ],
)
def test_no_number_has_more_than_three_significant_figures_or_an_exponent(show, value, expected):
    assert show(value) == expected


@pytest.mark.parametrize("sig", [4, 6])
def test_asking_for_more_figures_than_the_policy_allows_gets_three(sig):
    assert fmt.number(1.23456, sig) == "1.23" and fmt.count(123_456, sig) == "123k"


@pytest.mark.parametrize(
    "value, shown",
    [(0.515, "0.515"), (0.0004, "<0.001"), (-0.0004, "0"), (-0.02, "0"), (0.0, "0"), (1.03, "1"), (None, "–")],
)
def test_a_sobol_index_below_zero_is_noise_and_shows_as_zero(value, shown):
    assert fmt.variance_share(value) == shown


def test_money_and_inputs_under_one_keep_their_figures():
    assert fmt.money(0.4) == "$0.4" and fmt.money(-0.3) == "-$0.3" and fmt.by_unit(0.5, "vehicles") == "0.5"
    assert fmt.count(0.4) == "under 1"
