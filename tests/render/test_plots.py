"""PNG plots: written, non-empty, real PNGs, also for awkward model names."""

from __future__ import annotations

import stat
import struct
from pathlib import Path

from fixtures.leaderboard import synthetic  # tests/fixtures, on sys.path via pytest

from xbench.leaderboard import build_leaderboard
from xbench.references import load_references
from xbench.render.plots import bars_figure, heatmap_figure, write_plots
from xbench.results import load_runs

PNG = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG, f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_write_plots(tmp_path: Path) -> None:
    results = synthetic.write_all(tmp_path / "results")
    synthetic.write_run(results, "org/$price$ & <b>", 1, {"en": 20, "de": 20})  # mathtext, HTML
    runs, _ = load_runs([results])
    lb = build_leaderboard(runs, references=load_references())
    written = write_plots(lb, tmp_path / "plots")
    assert [p.name for p in written] == ["xnli-test-bars.png", "xnli-test-heatmap.png"]
    for path in written:
        width, height = png_size(path)
        assert width > 300 and height > 200
        assert path.stat().st_size > 10_000
        assert path.stat().st_mode & stat.S_IRGRP  # shareable, not mkstemp's 0600
    assert not list((tmp_path / "plots").glob(".*.tmp"))


def test_plots_name_the_split_in_file_and_title(tmp_path: Path) -> None:
    results = synthetic.write_all(tmp_path / "results")
    synthetic.write_all(tmp_path / "dev", eval_split="dev")
    runs, _ = load_runs([results, tmp_path / "dev"])
    lb = build_leaderboard(runs)
    written = write_plots(lb, tmp_path / "plots")
    assert [p.name for p in written] == [
        *("xnli-test-bars.png", "xnli-test-heatmap.png"),
        *("xnli-dev-bars.png", "xnli-dev-heatmap.png"),
    ]
    test_table, dev_table = lb.tables
    assert bars_figure(dev_table).axes[0].get_title().startswith("xnli (dev split): ")
    assert heatmap_figure(test_table).axes[0].get_title().startswith("xnli (test split): ")
