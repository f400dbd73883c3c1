from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashedge.domain.errors import InvalidValue
from hashedge.domain.instruments import Product
from hashedge.domain.parameters import (
    CALIBRATION_CONFIDENCE,
    CALIBRATION_INDEX,
    DEFAULT_MARGIN,
    LIQUIDATION_PERIOD_DAYS,
    MARGIN_PERIOD_OF_RISK_DAYS,
    MarginRatios,
    MarkAnchoring,
    ParameterOutOfBounds,
    RiskParameters,
    calibrate_products,
    calibrated_margin,
    recipe_ratios,
    round_up_to_step,
)

D = Decimal
TOLERANCE = D("0.01")  # a default may sit at most one percentage point above its calibration


@pytest.fixture(scope="module")
def mainnet_history(shared_data: Path):
    from pricing.history import load_epoch_history

    return load_epoch_history(shared_data / "btc_difficulty_epochs.csv")


@pytest.fixture(scope="module")
def windows(mainnet_history):
    from pricing import calibration_windows

    return calibration_windows(mainnet_history)


@pytest.fixture(scope="module")
def ratio_by_window(mainnet_history, windows):
    from pricing import margin_ratio

    return {era.name: partial(margin_ratio, history=mainnet_history, era=era) for era in windows.eras}


def test_the_default_margins_are_exactly_the_calibration_recipe_applied_to_the_data(ratio_by_window):
    assert calibrated_margin(ratio_by_window) == dict(DEFAULT_MARGIN)


def test_the_windows_are_the_current_era_and_the_era_of_the_largest_fall_on_record(mainnet_history, windows):
    from pricing.history import halving_eras

    assert windows.current == halving_eras(mainnet_history)[-1]
    assert windows.stress_log_change == pytest.approx(float(mainnet_history.log_changes.min()))
    assert windows.stressed.first_epoch <= windows.stress_epoch <= windows.stressed.last_epoch
    # today: the China mining ban (epoch 342, July 2021, -32.8%) in the 6.25 BTC era, no longer current
    assert (windows.stressed.name, windows.stress_epoch) == ("6.25 BTC", 342)
    assert windows.eras == (windows.current, windows.stressed)


def test_the_stressed_window_keeps_the_defaults_above_what_the_calm_current_era_alone_gives(ratio_by_window, windows):
    for product, calibration in calibrate_products(ratio_by_window).items():
        assert calibration.binding_window == windows.stressed.name, product
        current_only = calibration.ratios_on(windows.current.name)
        assert current_only.initial < DEFAULT_MARGIN[product].initial, product
        assert current_only.maintenance < DEFAULT_MARGIN[product].maintenance, product
        assert calibration.ratios_on(windows.stressed.name) == DEFAULT_MARGIN[product], product


def test_each_initial_margin_covers_the_7_day_99_percent_loss_of_every_window_within_one_point(ratio_by_window):
    for product, index in CALIBRATION_INDEX.items():
        losses = [D(repr(ratio(index, MARGIN_PERIOD_OF_RISK_DAYS, CALIBRATION_CONFIDENCE)))
                  for ratio in ratio_by_window.values()]
        assert max(losses) <= DEFAULT_MARGIN[product].initial <= max(losses) + TOLERANCE, product


def test_each_maintenance_margin_covers_the_3_day_loss_of_a_liquidation_in_every_window(ratio_by_window):
    for product, index in CALIBRATION_INDEX.items():
        ratios = DEFAULT_MARGIN[product]
        for ratio in ratio_by_window.values():
            calibrated = D(repr(ratio(index, LIQUIDATION_PERIOD_DAYS, CALIBRATION_CONFIDENCE)))
            assert calibrated <= ratios.maintenance < ratios.initial, product


def test_the_documented_numbers_are_the_defaults():
    assert DEFAULT_MARGIN == {
        Product.HASHPRICE_MONTHLY: MarginRatios(D("0.15"), D("0.10")),
        Product.BME14_EPOCH: MarginRatios(D("0.15"), D("0.10")),
        Product.DIFF_EPOCH: MarginRatios(D("0.13"), D("0.09")),
    }
    params = RiskParameters()
    assert (params.maker_fee_bps, params.taker_fee_bps, params.otc_band_ratio) == (2, 5, D("0.05"))
    assert params.mark_anchoring is MarkAnchoring.MEDIAN
    assert (params.order_price_band_ratio, params.mark_min_book_notional_sats, params.mark_book_band_ratio,
            params.mark_band_ratio, params.mark_max_change_ratio, params.mark_trade_window_minutes) == (
        D("0.2"), 50_000_000, D("0.05"), D("0.04"), D("0.01"), 60)
    assert (params.liquidation_penalty_ratio, params.liquidation_step_fraction, params.liquidation_buffer_ratio,
            params.liquidation_book_band_ratio) == (D("0.01"), D("0.1"), D("0.04"), D("0.03"))
    assert (params.penalty_split_takers, params.penalty_split_otc_counterparties, params.penalty_split_insurance_fund,
            params.penalty_split_community_fund) == (D("0.4"), D("0.1"), D("0.4"), D("0.1"))


def _window(losses: dict[str, float], liquidation_share: float = 0.5):
    """A calibration window giving ``losses[index]`` over 7 days and a share of it over 3."""
    def ratio(index, days, confidence):
        assert confidence == CALIBRATION_CONFIDENCE and days in (MARGIN_PERIOD_OF_RISK_DAYS, LIQUIDATION_PERIOD_DAYS)
        return losses[index] * (1.0 if days == MARGIN_PERIOD_OF_RISK_DAYS else liquidation_share)
    return ratio


def test_the_recipe_rounds_up_to_a_whole_percent():
    recipe = calibrated_margin({"only": _window({"HASHPRICE": 0.1447, "BME14": 0.15, "DIFF": 0.0001})})
    assert recipe[Product.HASHPRICE_MONTHLY] == MarginRatios(D("0.15"), D("0.10"))
    assert recipe[Product.BME14_EPOCH] == MarginRatios(D("0.15"), D("0.10"))
    assert recipe[Product.DIFF_EPOCH] == MarginRatios(D("0.01"), D("0.01"))
    assert round_up_to_step(D("0.1300000001")) == D("0.14")


def test_the_recipe_takes_the_larger_loss_of_the_windows_for_each_product():
    calm = _window({"HASHPRICE": 0.0923, "BME14": 0.0923, "DIFF": 0.0969})
    stressed = _window({"HASHPRICE": 0.1447, "BME14": 0.1447, "DIFF": 0.0801})
    calibrations = calibrate_products({"calm": calm, "stressed": stressed})
    assert calibrations[Product.HASHPRICE_MONTHLY].ratios == MarginRatios(D("0.15"), D("0.10"))
    assert calibrations[Product.HASHPRICE_MONTHLY].binding_window == "stressed"
    assert calibrations[Product.HASHPRICE_MONTHLY].ratios_on("calm") == MarginRatios(D("0.10"), D("0.07"))
    assert calibrations[Product.DIFF_EPOCH].ratios == MarginRatios(D("0.10"), D("0.07"))
    assert calibrations[Product.DIFF_EPOCH].binding_window == "calm"
    reordered = calibrated_margin({"stressed": stressed, "calm": calm})
    assert calibrated_margin({"calm": calm, "stressed": stressed}) == reordered


def test_maintenance_never_falls_below_the_3_day_loss_even_when_two_thirds_of_initial_would():
    steep = _window({"HASHPRICE": 0.12, "BME14": 0.12, "DIFF": 0.12}, liquidation_share=0.9)  # 3 d 10.8%
    assert calibrated_margin({"steep": steep})[Product.DIFF_EPOCH] == MarginRatios(D("0.12"), D("0.11"))
    assert recipe_ratios(D("0.12")) == MarginRatios(D("0.12"), D("0.08"))


@given(st.lists(st.tuples(st.floats(0.0001, 0.9), st.floats(0.0001, 0.9), st.floats(0.0, 1.0)),
                min_size=1, max_size=4))
def test_adding_a_window_never_lowers_a_margin(windows):
    named = {f"w{i}": _window({"HASHPRICE": hp, "BME14": hp, "DIFF": diff}, share)
             for i, (hp, diff, share) in enumerate(windows)}
    fewer = calibrated_margin(dict(list(named.items())[:-1])) if len(named) > 1 else None
    more = calibrated_margin(named)
    for product, ratios in more.items():
        assert ratios.maintenance <= ratios.initial
        if fewer is not None:
            assert ratios.initial >= fewer[product].initial and ratios.maintenance >= fewer[product].maintenance


def test_the_recipe_needs_a_window():
    with pytest.raises(InvalidValue, match="at least one calibration window"):
        calibrated_margin({})


def test_the_capped_contract_takes_no_ratio():
    with pytest.raises(InvalidValue, match="whole range"):
        RiskParameters().ratios(Product.BME14_CAPPED)


def test_the_registry_round_trips():
    params = RiskParameters()
    registry = params.as_registry()
    assert registry["margin.initial.diff_epoch"] == D("0.13") and registry["mark.anchoring"] == "median"
    assert RiskParameters.from_registry(registry) == params


def test_a_governed_change_inside_the_bounds_is_taken():
    changed = RiskParameters().with_changes({"margin.initial.hashprice_monthly": D("0.18"), "fees.taker_bps": D(7),
                                             "mark.anchoring": "book_mid"})
    assert changed.ratios(Product.HASHPRICE_MONTHLY) == MarginRatios(D("0.18"), D("0.10"))
    assert (changed.taker_fee_bps, changed.mark_anchoring) == (7, MarkAnchoring.BOOK_MID)


@pytest.mark.parametrize("name, value", [
    ("margin.initial.bme14_epoch", D("0.04")),
    ("margin.initial.bme14_epoch", D("1.5")),
    ("margin.maintenance.diff_epoch", D("0.02")),
    ("fees.maker_bps", D(-1)),
    ("fees.taker_bps", D(101)),
    ("otc.band_ratio", D("0.3")),
    ("orders.market_band_ratio", D("0.001")),
    ("orders.price_band_ratio", D("1.01")),
    ("mark.min_book_notional_sats", D(999_999)),
    ("mark.band_ratio", D("-0.01")),
    ("mark.max_change_ratio", D("0.3")),
    ("mark.trade_window_minutes", D(0)),
])
def test_a_value_outside_its_hard_bound_is_refused(name, value):
    with pytest.raises(ParameterOutOfBounds) as caught:
        RiskParameters().with_changes({name: value})
    assert (caught.value.name, caught.value.value) == (name, value)


def test_the_limit_price_band_holds_the_market_order_band_and_whole_numbers_stay_whole():
    with pytest.raises(ParameterOutOfBounds, match="inside the limit-price band"):
        RiskParameters().with_changes({"orders.price_band_ratio": D("0.04")})
    assert RiskParameters().with_changes({"orders.price_band_ratio": D("0.05")}).order_price_band_ratio == D("0.05")
    with pytest.raises(InvalidValue, match="whole number"):
        RiskParameters().with_changes({"mark.trade_window_minutes": D("1.5")})


def test_the_default_mark_band_is_the_smallest_gap_between_initial_and_maintenance():
    """MARKS.md: at 4% the book alone cannot move an account holding initial margin at the model
    below maintenance, in any product (DIFF's 13% - 9% is the smallest gap)."""
    params = RiskParameters()
    assert params.mark_band_ratio == min(r.initial - r.maintenance for r in params.margin.values())


def test_maintenance_can_never_exceed_initial():
    with pytest.raises(ParameterOutOfBounds, match="cannot exceed initial"):
        RiskParameters().with_changes({"margin.maintenance.diff_epoch": D("0.14")})


def test_unknown_names_and_missing_products_are_refused():
    with pytest.raises(InvalidValue, match="not a governed parameter"):
        RiskParameters().with_changes({"margin.initial.bitcoin": D("0.1")})
    with pytest.raises(InvalidValue, match="every margined product"):
        RiskParameters(margin={Product.DIFF_EPOCH: MarginRatios(D("0.13"), D("0.09"))})
    with pytest.raises(InvalidValue, match="fully collateralized"):
        RiskParameters(margin=dict(DEFAULT_MARGIN) | {Product.BME14_CAPPED: MarginRatios(D("0.5"), D("0.5"))})


def test_a_float_parameter_is_refused():
    with pytest.raises(InvalidValue):
        RiskParameters(taker_fee_bps=5.0)
