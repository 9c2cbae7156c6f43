"""Settings: defaults, pyproject.toml / tcpforensics.toml / --config, --threshold, bad input exit 2."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import tcpforensics.detect  # noqa: F401  (the detectors register their thresholds when imported)
from tcpforensics import config
from tcpforensics.cli import app
from tcpforensics.errors import UsageError
from tests.conftest import FIXTURES

runner = CliRunner()
NSTAT = str(FIXTURES / "counters" / "nstat.txt")


def test_defaults_are_registered_and_overridable() -> None:
    defaults = config.all_defaults()
    assert defaults["syn_recv_medium"] == 50 and defaults["ephemeral_port_high"] == 60999
    c = config.Config(thresholds={"syn_recv_medium": 7})
    assert c.validate().get("syn_recv_medium") == 7 and c.get("syn_recv_high") == defaults["syn_recv_high"]
    with pytest.raises(KeyError):
        c.get("no_such_threshold")


def test_pyproject_table(tmp_path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.tcpforensics]\nexpected_listeners = ["22", "nginx"]\n'
        "[tool.tcpforensics.thresholds]\nclose_wait_low = 2\n"
    )
    c = config.load(cwd=tmp_path)
    assert c.thresholds == {"close_wait_low": 2} and c.expected_listeners == ["22", "nginx"]
    assert "pyproject.toml" in c.source


def test_tcpforensics_toml_wins_over_pyproject(tmp_path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.tcpforensics.thresholds]\nclose_wait_low = 2\n")
    (tmp_path / "tcpforensics.toml").write_text("[thresholds]\nclose_wait_low = 3\n")
    assert config.load(cwd=tmp_path).thresholds == {"close_wait_low": 3}


def test_no_file_gives_defaults(tmp_path) -> None:
    c = config.load(cwd=tmp_path)
    assert c.source == "defaults" and c.thresholds == {} and c.expected_listeners is None


def test_explicit_config_path(tmp_path) -> None:
    p = tmp_path / "site.toml"
    p.write_text('[tcpforensics]\nexpected_listeners = "22, 443"\n[tcpforensics.thresholds]\nsyn_recv_low = 4\n')
    c = config.load(str(p), cwd=tmp_path)
    assert c.thresholds == {"syn_recv_low": 4} and c.expected_listeners == ["22", "443"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("[thresholds\nx = 1\n", "invalid TOML"),
        ("colour = 'red'\n", "unknown setting"),
        ("thresholds = 3\n", "thresholds must be a table"),
        ("expected_listeners = 22\n", "expected_listeners must be a list"),
    ],
)
def test_bad_config_raises_usage_error(tmp_path, text: str, message: str) -> None:
    p = tmp_path / "tcpforensics.toml"
    p.write_text(text)
    with pytest.raises(UsageError, match=message):
        config.load(cwd=tmp_path)


@pytest.mark.parametrize(
    "thresholds, message",
    [({"syn_recv_lo": 1}, "did you mean syn_recv_low"), ({"syn_recv_low": "many"}, "expected a int")],
)
def test_validate_rejects_unknown_or_ill_typed(thresholds: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        config.Config(thresholds=thresholds).validate()


def test_cli_bad_toml_exits_2_with_one_line(tmp_path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text("[tcpforensics\n")
    r = runner.invoke(app, ["analyze", "--config", str(p), NSTAT])
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "invalid TOML" in lines[0] and str(p) in lines[0]


def test_cli_missing_config_and_unknown_threshold_exit_2(tmp_path) -> None:
    r = runner.invoke(app, ["analyze", "--config", str(tmp_path / "nope.toml"), NSTAT])
    assert r.exit_code == 2 and "config file not found" in r.output
    r = runner.invoke(app, ["analyze", "-t", "bogus=1", NSTAT])
    assert r.exit_code == 2 and "unknown threshold 'bogus'" in r.output
    r = runner.invoke(app, ["analyze", "-t", "bogus", NSTAT])
    assert r.exit_code == 2 and "NAME=VALUE" in r.output


def test_cli_threshold_overrides_config_file(tmp_path) -> None:
    # nstat.txt: ListenDrops 12 since boot (one reading: low at most); the config hides
    # nothing, but a retrans ratio of 20/5000 = 0.4% fires only when the low threshold drops
    p = tmp_path / "t.toml"
    p.write_text("[tcpforensics.thresholds]\nretrans_ratio_low = 0.5\n")
    r = runner.invoke(app, ["analyze", "-f", "csv", "--config", str(p), NSTAT])
    assert r.exit_code == 0 and "retransmissions" not in r.output
    r = runner.invoke(app, ["analyze", "-f", "csv", "--config", str(p), "-t", "retrans_ratio_low=0.001", NSTAT])
    assert r.exit_code == 0 and "retransmissions" in r.output
