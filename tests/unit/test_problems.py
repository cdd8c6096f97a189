"""The data files staff edit (network, routing, SLA, canned replies) report a file they cannot read or parse in
one shape, naming the file and the line, through their own error class (bot.problems.read_yaml)."""

from __future__ import annotations

import pytest

from bot.network import Network, NetworkError
from bot.network.routing import Router, RoutingError
from bot.problems import read_yaml
from bot.tickets import canned
from bot.tickets.canned import CannedError
from bot.tickets.sla import SlaConfigError, SlaPolicy

BROKEN = "nodes:\n  - id: centre\n    name: 综合服务中心\n  - id: [fengxi\n    name: 沣西\n"  # "[" unclosed


@pytest.mark.parametrize(
    "load, error",
    [
        (Network.load, NetworkError),
        (Router.load, RoutingError),
        (SlaPolicy.load, SlaConfigError),
        (canned.load, CannedError),
    ],
)
def test_a_broken_file_names_itself_and_the_line(tmp_path, load, error):
    path = tmp_path / "broken.yml"
    path.write_text(BROKEN, encoding="utf-8")
    with pytest.raises(error) as caught:
        load(path)
    message = str(caught.value)
    assert f"{path}: 第5行: YAML 格式错误：" in message


@pytest.mark.parametrize("load, error", [(Network.load, NetworkError), (SlaPolicy.load, SlaConfigError)])
def test_a_missing_file_is_named(tmp_path, load, error):
    with pytest.raises(error, match="无法读取文件"):
        load(tmp_path / "absent.yml")


def test_a_good_file_is_parsed(tmp_path):
    path = tmp_path / "ok.yml"
    path.write_text("a: 1\nb: [中文, 2]\n", encoding="utf-8")
    assert read_yaml(path, ValueError) == {"a": 1, "b": ["中文", 2]}
