"""MARGIN.md's tables are the recalibration's output on the shared data (never typed by hand)."""

from pathlib import Path

import pytest

from hashedge.domain.parameters import DEFAULT_MARGIN
from hashedge.services.margin_calibration import COMMAND, margin_doc_blocks, recalibrate_margin
from pricing.calibration_report import generated_blocks

MARGIN_MD = Path(__file__).resolve().parents[3] / "hashedge" / "domain" / "MARGIN.md"


@pytest.fixture(scope="module")
def history(shared_data):
    from pricing.history import load_epoch_history

    return load_epoch_history(shared_data / "btc_difficulty_epochs.csv")


def test_margin_md_tables_are_the_generators_output_on_the_data(history):
    expected = margin_doc_blocks(history)
    in_doc = generated_blocks(MARGIN_MD.read_text(), COMMAND)
    assert set(in_doc) == set(expected)
    for name, body in expected.items():
        assert in_doc[name] == body, f"{name}: run `{COMMAND} --write hashedge/domain/MARGIN.md`"


def test_the_numbers_table_shows_the_defaults_and_what_binds_them(history):
    result = recalibrate_margin(history)
    assert {p: c.ratios for p, c in result.products.items()} == dict(DEFAULT_MARGIN)
    rows = margin_doc_blocks(history)["numbers"].splitlines()[2:]
    for product, row in zip(result.products, rows):
        ratios = DEFAULT_MARGIN[product]
        cells = row.split(" | ")
        assert cells[4] == f"**{ratios.initial * 100:.0f}%**" and cells[7] == f"**{ratios.maintenance * 100:.0f}%**"
        assert cells[8] == f"{result.windows.stressed.name} era (stressed)"
