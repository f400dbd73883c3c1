"""The difficulty term structure bootstrapped from BME futures quotes."""

import pytest

from pricing import BmeFuturesQuote, DifficultyTermStructure, DiffFuturesQuote, NoSolutionError
from pricing.difficulty_curve import implied_difficulty, implied_growth_rate
from pricing.futures import bme_term_btc_per_th_day

CURRENT = 420
D0 = 1.0e14


def test_one_quote_over_the_next_epochs_gives_the_idgr():
    price = 0.9 * bme_term_btc_per_th_day(CURRENT, D0)
    curve = DifficultyTermStructure.from_quotes({CURRENT: D0}, [BmeFuturesQuote(CURRENT + 6, 6, price)])
    expected = implied_growth_rate(D0, implied_difficulty(price, 3.125), 6)
    assert curve.segment_growth[0] == pytest.approx(expected, abs=1e-13)


def test_every_quote_reprices_exactly():
    base = bme_term_btc_per_th_day(CURRENT, D0)
    quotes = [
        BmeFuturesQuote(CURRENT + 2, 1, 0.97 * base),
        BmeFuturesQuote(CURRENT + 5, 2, 0.92 * base),
        BmeFuturesQuote(CURRENT + 9, 6, 0.88 * base),
    ]
    known = {CURRENT - e: D0 / 1.02**e for e in range(6)}
    curve = DifficultyTermStructure.from_quotes(known, quotes)
    for quote in quotes:
        fair = curve.fair_bme(quote.settlement_epoch, quote.window_epochs)
        assert fair == pytest.approx(quote.price_btc_per_th_day, rel=1e-12)


def test_between_listed_epochs_difficulty_grows_geometrically():
    base = bme_term_btc_per_th_day(CURRENT, D0)
    curve = DifficultyTermStructure.from_quotes(
        {CURRENT: D0}, [BmeFuturesQuote(CURRENT + 4, 1, base / 1.1**4)]
    )
    assert curve.difficulty(CURRENT + 4) == pytest.approx(D0 * 1.1**4, rel=1e-12)
    for epoch in range(CURRENT + 1, CURRENT + 4):
        assert curve.growth_rate(epoch) == pytest.approx(0.1, abs=1e-12)
    assert curve.fair_difficulty(CURRENT + 2) == pytest.approx(D0 * 1.21, rel=1e-12)


def test_a_window_reaching_into_known_epochs_counts_them_as_fixed():
    known = {CURRENT - 1: 0.95e14, CURRENT: D0}
    target = (bme_term_btc_per_th_day(CURRENT - 1, 0.95e14) + bme_term_btc_per_th_day(CURRENT, D0)
              + bme_term_btc_per_th_day(CURRENT + 1, 1.05e14)) / 3
    curve = DifficultyTermStructure.from_quotes(known, [BmeFuturesQuote(CURRENT + 1, 3, target)])
    assert curve.difficulty(CURRENT + 1) == pytest.approx(1.05e14, rel=1e-12)


def test_the_curve_prices_hashprice_windows_from_its_epochs():
    base = bme_term_btc_per_th_day(CURRENT, D0)
    curve = DifficultyTermStructure.from_quotes({CURRENT: D0}, [BmeFuturesQuote(CURRENT + 2, 2, 0.95 * base)])
    one_epoch = curve.fair_hashprice({CURRENT + 1: 14})
    hashrate_phs = curve.difficulty(CURRENT + 1) * 2**32 / 600 / 1e15
    assert one_epoch == pytest.approx(3.125e8 * 144 / hashrate_phs, rel=1e-14)


def test_epochs_past_the_last_quote_are_not_extrapolated():
    base = bme_term_btc_per_th_day(CURRENT, D0)
    curve = DifficultyTermStructure.from_quotes({CURRENT: D0}, [BmeFuturesQuote(CURRENT + 2, 1, base)])
    with pytest.raises(ValueError, match="covered by the curve"):
        curve.difficulty(CURRENT + 3)


def test_a_quote_settling_before_the_current_epoch_is_refused():
    with pytest.raises(ValueError, match="must settle after epoch"):
        DifficultyTermStructure.from_quotes({CURRENT: D0}, [BmeFuturesQuote(CURRENT, 1, 1e-7)])


def test_a_quote_the_fixed_epochs_already_exceed_has_no_solution():
    known = {CURRENT - 1: D0, CURRENT: D0}
    tiny = 0.1 * bme_term_btc_per_th_day(CURRENT, D0)
    with pytest.raises(NoSolutionError, match="already earn more"):
        DifficultyTermStructure.from_quotes(known, [BmeFuturesQuote(CURRENT + 1, 3, tiny)])


def test_diff_and_bme_quotes_build_one_curve():
    base = bme_term_btc_per_th_day(CURRENT, D0)
    quotes = [DiffFuturesQuote(CURRENT + 2, D0 * 1.1025), BmeFuturesQuote(CURRENT + 4, 2, 0.85 * base)]
    curve = DifficultyTermStructure.from_quotes({CURRENT: D0}, quotes)
    assert curve.growth_rate(CURRENT + 1) == pytest.approx(0.05, abs=1e-12)
    assert curve.fair_difficulty(CURRENT + 2) == pytest.approx(D0 * 1.1025, rel=1e-14)
    assert curve.fair_bme(CURRENT + 4, 2) == pytest.approx(0.85 * base, rel=1e-12)


def test_a_diff_quote_beyond_the_retarget_clamp_has_no_solution():
    with pytest.raises(NoSolutionError, match="retarget clamp"):
        DifficultyTermStructure.from_quotes({CURRENT: D0}, [DiffFuturesQuote(CURRENT + 1, 5 * D0)])
