"""Options from one dataclass per verb: generated flags and --help, validation, --config files, presets."""

import json

import pytest

from abc_inverse.cli import FitCommand, build_parser, main
from abc_inverse.fit import FitConfig
from abc_inverse.options import build, resolve, to_dict

TINY = ["--batch-size", "4", "--image-size", "16", "--latent-dim", "6", "--channels", "4,8", "--n-shape", "3",
        "--n-albedo", "2", "--no-progress"]


def _help(verb, capsys):
    with pytest.raises(SystemExit):
        main([verb, "--help"])
    return capsys.readouterr().out


def test_help_is_generated_from_the_dataclasses(capsys):
    text = _help("fit", capsys)
    for flag, default in (("--tune", 100), ("--target-acceptance", 0.1), ("--explore-chains", 0),
                          ("--crop", "auto")):
        assert flag in text and f"(default: {default})" in text.replace("\n", " ").replace("  ", " ")
    text = _help("train", capsys)
    paper, beyond = text.index("paper (Kulkarni et al. 2015):"), text.index("beyond the paper:")
    line = lambda flag: text.index(f"\n  {flag} ")  # noqa: E731 - where the flag's help line starts
    assert paper < line("--invariance") < beyond < line("--mirror") < line("--slowness") < line("--preset")


def test_flags_override_the_config_file_which_overrides_the_defaults(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"crop": "none", "sampler": {"chains": 4, "draws": 50}}))
    args = build_parser().parse_args(["fit", "--config", str(path), "--draws", "7"])
    opts = resolve(FitCommand, args)
    assert (opts.crop, opts.sampler.chains, opts.sampler.draws, opts.sampler.tune) == ("none", 4, 7, FitConfig().tune)
    assert build(FitCommand, to_dict(opts)) == opts  # what a run writes reads back to the same options


@pytest.mark.parametrize("content, match", [
    ({"sampler": {"chans": 3}}, r"unknown option\(s\) \['chans'\]"),
    ({"sampler": {"chains": 0}}, "chains: expected an integer ≥ 1, got 0"),
    ({"sampler": {"kernel": "box"}}, "kernel: expected one of"),
    ({"progress": "yes", "sampler": {}}, "progress: expected bool, got 'yes'"),
    ({"sampler": {"draws": 2.5}}, "draws: expected an integer ≥ 1, got 2.5"),
    ([1, 2], "holds list, expected a JSON object"),
])
def test_bad_config_files_are_refused(tmp_path, capsys, content, match):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(content))
    with pytest.raises(SystemExit):
        main(["fit", "--config", str(path)])
    assert __import__("re").search(match, capsys.readouterr().err)


def test_python_api_validates_like_the_command_line():
    with pytest.raises(ValueError, match=r"target_acceptance: expected a number in \(0, 1\), got 1.5"):
        FitConfig(target_acceptance=1.5)
    with pytest.raises(ValueError, match="epsilon: expected a number > 0, got nan"):
        FitConfig(epsilon=float("nan"))


def test_train_preset_default_runs_its_two_stages_and_writes_rereadable_configs(tmp_path):
    out = tmp_path / "new_folder" / "net.pt"
    tmp_path = out.parent
    assert main(["train", "--preset", "default", "--out", str(out), "--steps", "2", "--decoder-hidden", "4",
                 *TINY]) == 0
    first = json.loads((tmp_path / "net.pt.stage1.pt.json").read_text())
    second = json.loads((tmp_path / "net.pt.json").read_text())
    assert first["config"]["mode"] == "random" and first["config"]["decoder_hidden"] == 4
    assert second["config"]["mode"] == "specific" and second["config"]["mirror"] == 10.0
    assert second["config"]["camera_invariance"] == 300.0
    assert second["init"]["path"] == str(tmp_path / "net.pt.stage1.pt")
    config = json.loads((tmp_path / "net.pt.config.json").read_text())
    assert config["preset"] is None and config["init"] == str(tmp_path / "net.pt.stage1.pt")
    again = tmp_path / "again.pt"
    assert main(["train", "--config", str(tmp_path / "net.pt.config.json"), "--out", str(again)]) == 0
    assert json.loads((tmp_path / "again.pt.json").read_text())["config"] == second["config"]


def test_the_default_preset_is_the_recipe_recorded_with_the_shipped_network():
    """`train --preset default` names what made encoders/data/dcign_default.pt: its last stage's settings equal the
    config in the shipped record, and its first stage's architecture (the one --init needs) is the same."""
    from encoders.dcign import DEFAULT_CHECKPOINT
    from encoders.train import PRESETS, TrainConfig

    record = json.loads(DEFAULT_CHECKPOINT.with_name(DEFAULT_CHECKPOINT.name + ".json").read_text())
    first, last = (TrainConfig(**stage) for stage in PRESETS["default"])
    assert last == TrainConfig(**record["config"])
    assert (first.mode, first.steps, first.decoder_hidden, first.latent_dim) == ("random", 4000, 512, 64)


def test_a_fit_config_written_before_images_were_a_list_still_reads():
    from pathlib import Path

    assert build(FitCommand, {"image": "x.png"}).images == (Path("x.png"),)
    assert build(FitCommand, {"image": None, "sampler": {"draws": 7}}).images == ()
