"""Run ids, run directories and their rotation by count and by age."""

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from opsrun.errors import ExitCode, OpsrunError
from opsrun.state import (
    create_run_dir,
    ensure_private_dir,
    new_run_id,
    rotate_runs,
    run_id_time,
    write_private_json,
)

NOW = datetime(2026, 1, 28, 12, 0, 0, tzinfo=UTC)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def make_runs(runs_dir: Path, ages: list[timedelta]) -> list[str]:
    """Run directories started `age` before NOW, oldest last in the returned list as given."""
    ids = []
    for age in ages:
        run_id = new_run_id(NOW - age)
        (runs_dir / run_id).mkdir(parents=True)
        (runs_dir / run_id / "result.json").write_text("{}")
        ids.append(run_id)
    return ids


def test_run_ids_sort_by_time_and_carry_it() -> None:
    times = [NOW - timedelta(days=400), NOW - timedelta(microseconds=1), NOW, NOW + timedelta(seconds=1)]
    ids = [new_run_id(moment) for moment in times]
    assert sorted(ids) == ids
    assert [run_id_time(run_id) for run_id in ids] == times
    assert new_run_id(NOW) != new_run_id(NOW)


def test_run_id_is_utc_whatever_the_time_zone() -> None:
    tokyo = NOW.astimezone(ZoneInfo("Asia/Tokyo"))
    assert new_run_id(tokyo).startswith("20260128T120000.000000Z-")


@pytest.mark.parametrize(
    "name",
    ["latest", "20260128T120000Z-abcdef", "20260128T120000.000000Z-ABCDEF", "20260128T120000.000Z-abcdef"],
)
def test_other_names_are_not_run_ids(name: str) -> None:
    assert run_id_time(name) is None


def test_create_run_dir_is_private(tmp_path: Path) -> None:
    state = tmp_path / "state"
    run_dir = create_run_dir(state, NOW)
    assert run_dir.path == state / "runs" / run_dir.run_id
    assert run_id_time(run_dir.run_id) == NOW
    for path in (state, state / "runs", run_dir.path):
        assert mode_of(path) == 0o700
    write_private_json(run_dir.result_file, {"rc": 0})
    assert mode_of(run_dir.result_file) == 0o600
    assert run_dir.result_file.read_text() == '{\n  "rc": 0\n}\n'


def test_ensure_private_dir_leaves_existing_directories_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    ensure_private_dir(shared / "a" / "b")
    assert mode_of(shared) == 0o755
    assert mode_of(shared / "a") == 0o700
    assert mode_of(shared / "a" / "b") == 0o700


def test_ensure_private_dir_on_a_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    for target in (tmp_path / "file", tmp_path / "file" / "sub"):
        with pytest.raises(OpsrunError) as caught:
            ensure_private_dir(target)
        assert caught.value.exit_code == ExitCode.CONFIG
        assert str(target) in caught.value.message


def test_rotation_by_count_keeps_the_newest(tmp_path: Path) -> None:
    ids = make_runs(tmp_path, [timedelta(hours=hours) for hours in range(6)])  # newest first
    current = ids[0]
    removed = rotate_runs(tmp_path, keep=3, max_age_days=30, current=current, now=NOW)
    assert sorted(path.name for path in removed) == sorted(ids[3:])
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(ids[:3])


def test_rotation_by_age(tmp_path: Path) -> None:
    ids = make_runs(tmp_path, [timedelta(0), timedelta(days=29, hours=23), timedelta(days=30, minutes=1)])
    removed = rotate_runs(tmp_path, keep=50, max_age_days=30, current=ids[0], now=NOW)
    assert [path.name for path in removed] == [ids[2]]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(ids[:2])


def test_rotation_never_removes_the_current_run(tmp_path: Path) -> None:
    # The current run is the oldest here (a clock step back): it stays anyway, and counts.
    ids = make_runs(tmp_path, [timedelta(days=90), timedelta(hours=1), timedelta(hours=2)])
    current = ids[0]
    removed = rotate_runs(tmp_path, keep=1, max_age_days=1, current=current, now=NOW)
    assert sorted(path.name for path in removed) == sorted(ids[1:])
    assert [path.name for path in tmp_path.iterdir()] == [current]


def test_rotation_leaves_what_is_not_a_run_alone(tmp_path: Path) -> None:
    ids = make_runs(tmp_path, [timedelta(0), timedelta(days=100)])
    (tmp_path / "notes").mkdir()
    (tmp_path / "20200101T000000.000000Z-abcdef").write_text("a file, not a run directory")
    removed = rotate_runs(tmp_path, keep=1, max_age_days=1, current=ids[0], now=NOW)
    assert [path.name for path in removed] == [ids[1]]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [ids[0], "notes", "20200101T000000.000000Z-abcdef"]
    )
