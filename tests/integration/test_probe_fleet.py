"""probe run from a real host of the fleet: every kind of target answered or refused for real, each
reported on its own, and a task that fails only for bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from handle import Fleet

pytestmark = pytest.mark.fleet

MODULE = "opsrun.ops.probe"
UNUSED_HOST_NUMBER = 250  # hosts are .11 upwards (at most 200 of them), the hub .1, the controller .254


def probe_from(fleet: Fleet, workdir: Path, host: str, args: dict[str, Any], *,
               check: bool = False) -> dict[str, Any]:
    return fleet.run_module(workdir, [host], MODULE, args, check=check)[host]


def by_name(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {result["name"]: result for result in results}


def test_each_target_gets_its_own_result_and_down_targets_do_not_fail_the_task(
        fleet: Fleet, tmp_path: Path) -> None:
    source, neighbour = fleet.hosts[0], fleet.hosts[1]
    subnet = neighbour["address"].rsplit(".", 1)[0]
    unused = f"{subnet}.{UNUSED_HOST_NUMBER}"
    assert unused not in {host["address"] for host in fleet.hosts}
    repo = f"http://{subnet}.1:8080"
    targets = [
        {"name": "neighbour ping", "type": "ping", "host": neighbour["address"], "count": 2, "interval": 0.2},
        {"name": "nobody ping", "type": "ping", "host": unused, "count": 2, "interval": 0.2, "timeout": 1},
        {"name": "ssh", "type": "tcp", "host": neighbour["address"], "port": 22},
        {"name": "discard", "type": "tcp", "host": neighbour["address"], "port": 9},
        {"name": "repo", "type": "http", "url": f"{repo}/dists/bookworm/Release",
         "body_match": "Label: Debian"},
        {"name": "missing page", "type": "http", "url": f"{repo}/dists/no-such-suite/Release"},
        {"type": "dns", "host": "localhost"},
    ]
    result = probe_from(fleet, tmp_path, source["name"], {"targets": targets, "timeout": 3})
    assert not result.get("failed"), result
    assert result["changed"] is False
    results = by_name(result["results"])
    assert [entry["name"] for entry in result["results"]] == [
        "neighbour ping", "nobody ping", "ssh", "discard", "repo", "missing page", "dns A localhost"]

    ping = results["neighbour ping"]
    assert ping["status"] == "ok" and ping["error"] is None
    assert ping["transmitted"] == 2 and ping["received"] > 0 and ping["loss_percent"] < 100
    assert ping["rtt_min_ms"] <= ping["rtt_avg_ms"] <= ping["rtt_max_ms"]
    assert ping["latency_ms"] == ping["rtt_avg_ms"]

    nobody = results["nobody ping"]
    assert nobody["status"] == "fail" and nobody["error"]
    assert (nobody["transmitted"], nobody["received"], nobody["loss_percent"]) == (2, 0, 100.0)
    assert nobody["latency_ms"] is None and nobody["rtt_avg_ms"] is None

    ssh = results["ssh"]
    assert ssh["status"] == "ok" and ssh["address"] == neighbour["address"]
    assert ssh["target"] == f"{neighbour['address']}:22" and ssh["latency_ms"] >= 0
    discard = results["discard"]
    assert discard["status"] == "fail" and discard["latency_ms"] is None
    assert discard["error"] == "connect failed: Connection refused"

    repo_result = results["repo"]
    assert repo_result["status"] == "ok", repo_result
    assert (repo_result["status_code"], repo_result["body_matched"]) == (200, True)
    assert repo_result["final_url"] == f"{repo}/dists/bookworm/Release"
    missing = results["missing page"]
    assert missing["status"] == "fail" and missing["status_code"] == 404
    assert missing["error"] == "status 404, expected 200"

    dns = results["dns A localhost"]
    assert dns["status"] == "ok" and dns["resolver"] == "getaddrinfo"
    assert "127.0.0.1" in dns["answers"]

    assert result["all_ok"] is False
    assert result["failed_targets"] == 3
    assert {name for name, entry in results.items() if entry["status"] == "fail"} == {
        "nobody ping", "discard", "missing page"}


def test_check_mode_probes_as_a_normal_run_does(fleet: Fleet, tmp_path: Path) -> None:
    source, neighbour = fleet.hosts[0], fleet.hosts[1]
    targets = [{"type": "tcp", "host": neighbour["address"], "port": 22},
               {"type": "tcp", "host": neighbour["address"], "port": 9}]
    result = probe_from(fleet, tmp_path, source["name"], {"targets": targets}, check=True)
    assert not result.get("failed"), result
    assert [entry["status"] for entry in result["results"]] == ["ok", "fail"]
    assert (result["all_ok"], result["failed_targets"]) == (False, 1)


def test_bad_targets_fail_the_task_naming_each_index(fleet: Fleet, tmp_path: Path) -> None:
    source, neighbour = fleet.hosts[0], fleet.hosts[1]
    targets = [
        {"type": "tcp", "host": neighbour["address"], "port": 22},
        {"type": "icmp", "host": neighbour["address"]},
        {"type": "tcp", "host": neighbour["address"]},
        {"host": neighbour["address"]},
    ]
    result = probe_from(fleet, tmp_path, source["name"], {"targets": targets})
    assert result.get("failed") is True, result
    message = result["msg"]
    assert message.startswith("Bad probe targets: ")
    assert "targets[1].type must be one of ping, tcp, http, tls, dns, got 'icmp'" in message
    assert "targets[2].port is required for a tcp target" in message
    assert "targets[3].type is required; one of ping, tcp, http, tls, dns" in message
    assert "targets[0]" not in message
    assert "results" not in result
