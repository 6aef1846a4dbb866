"""``agentmarket simulate`` series and plots, and ``agentmarket simulate sweep``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from agentmarket_tui.cli import main
from engine.simulation import Scenario, sweep
from engine.simulation import tables

from .conftest import one_error_line


def _cli(*args: str) -> Result:
    return CliRunner().invoke(main, ["simulate", *args], catch_exceptions=False)


def test_simulate_writes_the_same_series_for_the_same_seed(tmp_path: Path) -> None:
    outputs = []
    for name in ("a", "b"):
        model, agents = tmp_path / f"{name}.csv", tmp_path / f"{name}-agents.jsonl"
        result = _cli("--agents", "10", "--tasks", "200", "--seed", "3", "--fee-percent", "15",
                      "--strategies", "balanced,adaptive,reputation", "--series", str(model),
                      "--agent-series", str(agents), "--every", "10")
        assert result.exit_code == 0, result.output
        outputs.append((model.read_bytes(), agents.read_bytes()))
    assert outputs[0] == outputs[1]
    rows = tables.read(tmp_path / "a.csv")
    assert rows[0]["step"] == 0 and rows[-1]["tasks_posted"] == 200
    strategies = {r["strategy"] for r in tables.read(tmp_path / "a-agents.jsonl")}
    assert strategies <= {"balanced", "adaptive", "reputation"}


def test_simulate_plots_a_run(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    picture = tmp_path / "run.png"
    result = _cli("--agents", "10", "--tasks", "150", "--plot", str(picture))
    assert result.exit_code == 0, result.output
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_cli_sweep_matches_the_same_sweep_in_python(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    result = _cli("sweep", "--param", "fee_percent=0,20", "--param", "agents=8", "--param", "tasks=120",
                  "--seeds", "2", "--out", str(out), "--format", "jsonl")
    assert result.exit_code == 0, result.output
    assert "4 runs" in result.stdout
    expected = sweep({"fee_percent": [0, 20], "agents": [8], "tasks": [120]}, 2, workers=1)
    assert tables.read(out / "tidy.jsonl") == expected.tidy()
    assert tables.read(out / "summary.jsonl") == expected.summary()
    assert len(list((out / "runs").glob("*.json"))) == 4


def test_a_cli_sweep_plots_each_measure_against_each_parameter(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    picture = tmp_path / "sweep.png"
    result = _cli("sweep", "--param", "fee_percent=5,25", "--param", "flaky_share=0,0.5", "--param", "tasks=60",
                  "--param", "agents=6", "--seeds", "2", "--out", str(tmp_path / "s"), "--plot", str(picture))
    assert result.exit_code == 0, result.output
    assert picture.stat().st_size > 10_000


@pytest.mark.parametrize(("args", "message"), [
    (["--param", "fees=5"], "unknown parameter 'fees'"),
    (["--param", "fee_percent=5,101"], "fee_percent must be from 0 to 100"),
    (["--param", "flaky_share=-0.1"], "flaky_share must be from 0 to 1"),
    (["--param", "agents=ten"], "agents must be an integer"),
    (["--param", "fee_percent"], "NAME=VALUE"),
    (["--param", "fee_percent=5", "--seeds", "0"], "--seeds must be at least 1"),
    (["--param", "fee_percent=5", "--seeds", "x"], "--seeds"),
    (["--seeds", "2"], "--param"),
])
def test_bad_sweep_parameters_get_one_line_and_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    result = _cli("sweep", *args, "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert message in one_error_line(result)
    assert not (tmp_path / "out" / "runs").exists()


def test_an_unwritable_output_gets_one_line_and_exit_2(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = _cli("sweep", "--param", "fee_percent=5", "--out", str(blocker / "out"))
    assert result.exit_code == 2 and "cannot write to" in one_error_line(result)
    result = _cli("--tasks", "10", "--series", str(blocker / "series.csv"))
    assert result.exit_code == 2 and "cannot write to" in one_error_line(result)
    result = _cli("--tasks", "10", "--series", str(tmp_path / "series.xlsx"))
    assert result.exit_code == 2 and "unknown table format" in one_error_line(result)


def test_ctrl_c_keeps_finished_runs_and_the_same_command_resumes(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    command = [sys.executable, "-c", "from agentmarket_tui.cli import main; main()", "simulate", "sweep", "--param", "fee_percent=5,10,15",
               "--param", "agents=10", "--param", "tasks=300", "--seeds", "6", "--workers", "2", "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    runs = out / "runs"
    while process.poll() is None and len(list(runs.glob("*.json")) if runs.exists() else []) < 2:
        time.sleep(0.05)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group
    _, stderr = process.communicate(timeout=120)
    kept = sorted(runs.glob("*.json"))
    if process.returncode == 0:
        pytest.skip("the sweep finished before Ctrl-C arrived")
    assert process.returncode == 130
    last_line = stderr.decode().replace("\r", "\n").strip().splitlines()[-1]
    assert f"of 18 runs finished and kept in {out}" in last_line and "same command again to resume" in last_line
    assert len(kept) >= 2 and not list(runs.glob("*.partial"))
    stamps = {p.name: p.stat().st_mtime_ns for p in kept}

    resumed = subprocess.run(command, capture_output=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert len(list(runs.glob("*.json"))) == 18
    assert all((runs / name).stat().st_mtime_ns == stamp for name, stamp in stamps.items())  # reused, not rerun
    expected = sweep({"fee_percent": [5, 10, 15], "agents": [10], "tasks": [300]}, 6, workers=2,
                     base=Scenario())
    assert tables.read(out / "summary.csv") == expected.summary()
