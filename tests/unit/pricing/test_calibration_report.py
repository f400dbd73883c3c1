"""The risk model's tables in pricing/README.md are the generator's output on the shared data,
and the generator's markers rewrite only what they mark."""

from pathlib import Path

import pytest

from pricing.calibration_report import (
    COMMAND,
    generated_blocks,
    marked,
    report_blocks,
    rewrite_blocks,
    run,
)

README = Path(__file__).resolve().parents[3] / "pricing" / "README.md"


@pytest.fixture(scope="module")
def blocks(mainnet_history):
    return report_blocks(mainnet_history)


def test_the_readme_tables_are_the_generators_output_on_the_data(blocks):
    in_readme = generated_blocks(README.read_text(), COMMAND)
    assert set(in_readme) == set(blocks)
    for name, body in blocks.items():
        assert in_readme[name] == body, f"{name}: run `{COMMAND} --write pricing/README.md`"


def test_the_era_table_has_a_row_for_every_era_the_current_one_included(blocks, mainnet_history):
    from pricing.history import halving_eras

    rows = [line for line in blocks["eras"].splitlines()[2:]]
    eras = halving_eras(mainnet_history)
    assert [row.split(" | ")[0].lstrip("| ") for row in rows] == [era.name for era in eras]
    assert rows[-1].split(" | ")[1] == f"{eras[-1].first_epoch}-{int(mainnet_history.epochs[-1])}"


def test_the_ratio_tables_cover_both_windows(blocks, windows):
    for name in ("ratios-99", "ratios-97.5"):
        assert blocks[name].count(f"{windows.current.name} era (current)") == 3
        assert blocks[name].count(f"{windows.stressed.name} era (stressed)") == 3


SAMPLE = (
    "# Title\n\nprose\n\n" + marked(COMMAND, "first", "old table\n")
    + "\nmore prose\n\n" + marked("another generator", "first", "theirs\n")
)


def test_rewriting_replaces_only_the_marked_bodies_of_its_own_command():
    rewritten = rewrite_blocks(SAMPLE, COMMAND, {"first": "| new |\n"})
    assert rewritten == SAMPLE.replace("old table\n", "| new |\n")
    assert generated_blocks(rewritten, COMMAND) == {"first": "| new |\n"}
    assert generated_blocks(rewritten, "another generator") == {"first": "theirs\n"}


def test_a_marked_block_the_generator_does_not_know_is_refused():
    with pytest.raises(ValueError, match="generates no block named first"):
        rewrite_blocks(SAMPLE, COMMAND, {"second": "x\n"})


def test_the_command_writes_the_tables_into_a_file_and_reports_a_bad_one(tmp_path, capsys):
    target = tmp_path / "doc.md"
    target.write_text(SAMPLE)
    assert run(COMMAND, lambda: {"first": "| fresh |\n"}, ["--write", str(target)]) == 0
    assert "| fresh |" in target.read_text() and "theirs" in target.read_text()

    assert run(COMMAND, lambda: {"first": "| fresh |\n"}, []) == 0
    assert capsys.readouterr().out == marked(COMMAND, "first", "| fresh |\n")

    missing = tmp_path / "missing.md"
    assert run(COMMAND, lambda: {"first": "x\n"}, ["--write", str(missing)]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"error: {missing}:") and error.count("\n") == 1
