from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest

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
    calibrated_margin,
    round_up_to_step,
)

D = Decimal
TOLERANCE = D("0.01")  # a default may sit at most one percentage point above its calibration


@pytest.fixture(scope="module")
def margin_ratio(shared_data: Path):
    from pricing import margin_ratio
    from pricing.history import load_epoch_history

    return partial(margin_ratio, history=load_epoch_history(shared_data / "btc_difficulty_epochs.csv"))


def test_the_default_margins_are_exactly_the_calibration_recipe_applied_to_the_data(margin_ratio):
    assert calibrated_margin(margin_ratio) == dict(DEFAULT_MARGIN)


def test_each_initial_margin_covers_its_7_day_99_percent_loss_within_one_point(margin_ratio):
    for product, index in CALIBRATION_INDEX.items():
        calibrated = D(repr(margin_ratio(index, MARGIN_PERIOD_OF_RISK_DAYS, CALIBRATION_CONFIDENCE)))
        assert calibrated <= DEFAULT_MARGIN[product].initial <= calibrated + TOLERANCE, product


def test_each_maintenance_margin_covers_the_3_day_loss_of_a_liquidation(margin_ratio):
    for product, index in CALIBRATION_INDEX.items():
        calibrated = D(repr(margin_ratio(index, LIQUIDATION_PERIOD_DAYS, CALIBRATION_CONFIDENCE)))
        ratios = DEFAULT_MARGIN[product]
        assert calibrated <= ratios.maintenance < ratios.initial, product


def test_the_documented_numbers_are_the_defaults():
    assert DEFAULT_MARGIN == {
        Product.HASHPRICE_MONTHLY: MarginRatios(D("0.15"), D("0.10")),
        Product.BME14_EPOCH: MarginRatios(D("0.15"), D("0.10")),
        Product.DIFF_EPOCH: MarginRatios(D("0.13"), D("0.09")),
    }
    params = RiskParameters()
    assert (params.maker_fee_bps, params.taker_fee_bps, params.otc_band_ratio) == (2, 5, D("0.05"))
    assert params.mark_anchoring is MarkAnchoring.MODEL_CLIPPED_TO_BOOK


def test_the_recipe_rounds_up_to_a_whole_percent():
    recipe = calibrated_margin(lambda index, days, confidence: {"HASHPRICE": 0.1447, "BME14": 0.15, "DIFF": 0.0001}[index])
    assert recipe[Product.HASHPRICE_MONTHLY] == MarginRatios(D("0.15"), D("0.10"))
    assert recipe[Product.BME14_EPOCH] == MarginRatios(D("0.15"), D("0.10"))
    assert recipe[Product.DIFF_EPOCH] == MarginRatios(D("0.01"), D("0.01"))
    assert round_up_to_step(D("0.1300000001")) == D("0.14")


def test_the_capped_contract_takes_no_ratio():
    with pytest.raises(InvalidValue, match="whole range"):
        RiskParameters().ratios(Product.BME14_CAPPED)


def test_the_registry_round_trips():
    params = RiskParameters()
    registry = params.as_registry()
    assert registry["margin.initial.diff_epoch"] == D("0.13") and registry["mark.anchoring"] == "model_clipped_to_book"
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
])
def test_a_value_outside_its_hard_bound_is_refused(name, value):
    with pytest.raises(ParameterOutOfBounds) as caught:
        RiskParameters().with_changes({name: value})
    assert (caught.value.name, caught.value.value) == (name, value)


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
