"""bench-stats: same faces and seeds for every statistic, equal results locally and on Dask, exact resume."""

import json

import numpy as np
import pytest

import abc_inverse.bench_stats as bench
import abc_inverse.tasks as tasks
from abc_inverse.bench_stats import BenchConfig, run_benchmark, summarize, write_reports
from abc_inverse.cli import main as cli
from abc_inverse.fit import FitConfig

TINY = BenchConfig(faces=2, sampler=FitConfig(chains=4, draws=8, tune=8, pilot=8, explore_chains=0))
STATS = ["pixels", "code=dcign"]


def strip(results):
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in results]


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    return out, run_benchmark(STATS, TINY, out, workers=1, progress=False)


def test_every_statistic_fits_the_same_faces_with_the_same_seeds(local):
    _, results = local
    assert [(r["label"], r["face"]) for r in results] == [("pixels", 0), ("pixels", 1), ("code", 0), ("code", 1)]
    for face in (0, 1):
        truths = {r["label"]: r["true_azimuth"] for r in results if r["face"] == face}
        assert truths["pixels"] == truths["code"]
    assert results[0]["true_azimuth"] != results[1]["true_azimuth"]
    for r in results:
        assert 0 <= r["acceptance_rate"] <= 1 and r["pixel_mse"] > 0 and r["abs_error_azimuth"] >= 0


def test_process_pool_and_dask_give_the_local_results(local, tmp_path):
    from distributed import LocalCluster

    _, results = local
    pooled = run_benchmark(STATS, TINY, tmp_path / "pool", workers=2, progress=False)
    assert strip(pooled) == strip(results)
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster:
        dask = run_benchmark(STATS, TINY, tmp_path / "dask", scheduler=cluster.scheduler_address, progress=False)
    assert strip(dask) == strip(results)


def test_resume_reuses_finished_fits_and_refuses_other_settings(local, monkeypatch, tmp_path):
    out, results = local

    def refuse(*args):
        raise AssertionError("a finished fit was run again")

    monkeypatch.setattr(bench, "run_fit", refuse)
    assert run_benchmark(STATS, TINY, out, workers=1, progress=False) == results
    with pytest.raises(ValueError, match="other sampler settings"):  # another seed means other faces
        run_benchmark(STATS, BenchConfig(faces=2, seed=1, sampler=TINY.sampler), out, workers=1, progress=False)
    with pytest.raises(ValueError, match="other sampler settings"):
        other = FitConfig(chains=4, draws=9, tune=8, pilot=8, explore_chains=0)
        run_benchmark(STATS, BenchConfig(faces=2, sampler=other), out, workers=1,
                      progress=False)
    with pytest.raises(ValueError, match="label 'code' was 'dcign'"):
        run_benchmark(["code=pixels"], TINY, out, workers=1, progress=False)
    monkeypatch.setattr(tasks, "CONNECT_TIMEOUT_S", 2)
    with pytest.raises(ValueError, match="scheduler: cannot reach a Dask scheduler at 'tcp://127.0.0.1:9'"):
        run_benchmark(STATS, TINY, tmp_path / "nowhere", scheduler="tcp://127.0.0.1:9", progress=False)
    with pytest.raises(ValueError, match="labels must be unique"):
        run_benchmark(["a=pixels", "a=dcign"], TINY, tmp_path, workers=1, progress=False)


def test_reports_and_summary_known_answer(local):
    out, results = local
    rows = write_reports(results, out, command="abc-inverse bench-stats ...")
    for name in ("summary.md", "summary.csv", "fits.csv", "statistics.png", "pixel_error.png"):
        assert (out / name).stat().st_size > 0
    pix = [r["pixel_mse"] for r in results if r["label"] == "pixels"]
    assert rows[0]["pixel_mse"] == pytest.approx(np.mean(pix))
    assert rows[0]["pixel_mse_se"] == pytest.approx(np.std(pix, ddof=1) / np.sqrt(2))
    assert summarize(results[:1])[0]["pixel_mse_se"] == 0.0
    with np.load(out / "fits" / "code" / "face_001.npz") as d:
        assert d["pixel_mse"].shape == (4, 16)
    assert json.loads((out / "bench.json").read_text())["statistics"] == {"pixels": "pixels", "code": "dcign"}


def test_cli_runs_and_reports_bad_input(tmp_path, capsys):
    assert cli(["bench-stats", "--statistics", "pixels", "--faces", "1", "--draws", "4", "--tune", "4",
                "--chains", "4", "--pilot", "4", "--workers", "1", "--no-progress", "--out", str(tmp_path)]) == 0
    assert "| pixels | 1 |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli(["bench-stats", "--statistics", "alexnet:fc7", "--out", str(tmp_path / "x")])
    assert "statistic: expected pixels, dcign" in capsys.readouterr().err
