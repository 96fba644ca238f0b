# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The log_archive module: archives, manifests, commit at the destination, verify, retain, clean-up."""

import fcntl
import gzip
import hashlib
import io
import json
import os
import pwd
import shutil
import stat
import subprocess
import tarfile
import time

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.opsrun.ops.plugins.module_utils import _logarchive_build, _logarchive_select
from ansible_collections.opsrun.ops.plugins.module_utils._logarchive import ArchiveError, read_marker
from ansible_collections.opsrun.ops.plugins.module_utils._logarchive_build import MemberReader
from ansible_collections.opsrun.ops.plugins.module_utils._logarchive_lock import LockTimeout
from ansible_collections.opsrun.ops.plugins.modules import log_archive

ZSTD = shutil.which("zstd")
needs_zstd = pytest.mark.skipif(ZSTD is None, reason="the zstd command is not installed")
KEY = "2025-11-28"
NOW = time.time()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def params(**options):
    values = dict((name, spec.get("default")) for name, spec in log_archive.ARGUMENT_SPEC.items())
    values.update(options)
    return values


def run(check_mode=False, zstd=ZSTD, now=None, **options):
    return log_archive.run(params(**options), check_mode, NOW if now is None else now, zstd)[0]


class Site:
    """A source host's logs and staging directory, and a destination, all under tmp_path."""

    def __init__(self, root):
        self.root = root
        self.logs = root / "log"
        self.staging = root / "staging"
        self.dest = root / "dest" / "web01"
        self.logs.mkdir(parents=True)

    def write(self, name, data, age=0):
        path = self.logs / name
        path.write_bytes(data)
        if age:
            os.utime(str(path), (NOW - age, NOW - age))
        return path

    def archive(self, check_mode=False, zstd=ZSTD, **options):
        options.setdefault("paths", [str(self.logs / "*")])
        options.setdefault("period_key", KEY)
        return run(check_mode=check_mode, zstd=zstd, host="web01", staging_dir=str(self.staging), **options)

    def ship(self, built, tag="run1"):
        """Copy an archive and its manifest to the destination under temporary names, as the role does."""
        self.dest.mkdir(parents=True, exist_ok=True)
        part = self.dest / (".%s.%s.part" % (built["name"], tag))
        manifest_part = self.dest / (".%s.%s.manifest.part" % (built["name"], tag))
        shutil.copyfile(built["archive"], str(part))
        shutil.copyfile(built["manifest"], str(manifest_part))
        return part, manifest_part

    def commit(self, built, check_mode=False, tag="run1", sha=None):
        part, manifest_part = self.ship(built, tag)
        return run(check_mode=check_mode, state="commit", src=str(part), manifest_src=str(manifest_part),
                   dest_dir=str(self.dest), sha256=sha or built["sha256"])

    def backed_up(self, **options):
        """Archive, commit and confirm: the role's whole path for one period."""
        built = self.archive(**options)
        committed = self.commit(built)
        run(state="confirm", host="web01", period_key=options.get("period_key", KEY),
            staging_dir=str(self.staging), sha256=committed["sha256"],
            manifest_sha256=committed["manifest_sha256"])
        return built, committed


@pytest.fixture
def site(tmp_path):
    return Site(tmp_path)


def syslog_lines(count, tag="app"):
    line = b"Nov 28 23:%02d:%02d web01 %s[42]: message number %d\n"
    return b"".join(line % (i // 60 % 60, i % 60, tag.encode(), i) for i in range(count))


def read_archive(path):
    """{member name: bytes} of an archive, through the zstd command or gzip."""
    if path.endswith(".zst"):
        data = subprocess.run([ZSTD, "-d", "-c", path], stdout=subprocess.PIPE, check=True).stdout
    else:
        with gzip.open(path) as stream:
            data = stream.read()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return dict((info.name, tar.extractfile(info).read()) for info in tar if info.isreg())


def marker_text(archive_name, archive_sha256, manifest_path):
    """A verification marker re-signed by hand, for a manifest a test changed on purpose."""
    lines = [(archive_sha256, archive_name), (sha256(manifest_path.read_bytes()), manifest_path.name)]
    return "".join("%s  %s\n" % line for line in lines)


def load(path):
    with open(path) as stream:
        return json.load(stream)


# ---------------------------------------------------------------- names, periods, durations

@pytest.mark.parametrize("text, seconds", [
    ("", None), (None, None), ("90", 90), ("45s", 45), ("30m", 1800), ("12h", 43200), ("2d", 172800),
    ("1w", 604800), (" 3 h ", 10800),
])
def test_durations(text, seconds):
    assert _logarchive_select.parse_duration(text, "min_age") == seconds


@pytest.mark.parametrize("text", ["3x", "-1d", "1.5h", "d"])
def test_bad_durations_name_the_option(text):
    with pytest.raises(ValueError, match="max_age"):
        _logarchive_select.parse_duration(text, "max_age")


@pytest.mark.parametrize("period, key", [
    ("hourly", "2025-11-28T13"), ("daily", "2025-11-28"), ("weekly", "2025-W48"), ("monthly", "2025-11"),
])
def test_period_keys(period, key, monkeypatch):
    monkeypatch.setenv("TZ", "UTC0")
    time.tzset()
    try:
        assert _logarchive_select.period_key(period, 1764336600) == key  # 2025-11-28 13:30 UTC
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize("name, parsed", [
    ("web01_2025-11-28.tar.zst", ("web01", "2025-11-28", "zstd")),
    ("db_01.example.com_2025-W48.tar.gz", ("db_01.example.com", "2025-W48", "gzip")),
    (".web01_2025-11-28.tar.zst.123.part", None),
    ("web01_2025-11-28.manifest.json", None),
    ("web01_2025-11-28.tar.zst.sha256", None),
])
def test_archive_names(name, parsed):
    assert _logarchive_select.parse_archive_name(name) == parsed


def test_a_host_label_that_is_no_file_name_is_refused(site):
    with pytest.raises(ValueError, match="host must start"):
        run(host="../etc", paths=[str(site.logs / "*")], staging_dir=str(site.staging))


# ---------------------------------------------------------------- archive

@needs_zstd
def test_archive_holds_every_selected_file_and_its_manifest_describes_it(site):
    site.write("syslog", syslog_lines(2000))
    site.write("syslog.1", syslog_lines(3000, "old"))
    built = site.archive()
    assert built["status"] == "created" and built["changed"] is True
    assert built["name"] == "web01_%s.tar.zst" % KEY and built["compression"] == "zstd"
    contents = read_archive(built["archive"])
    manifest = load(built["manifest"])
    assert sorted(contents) == sorted(member["name"] for member in manifest["members"])
    for member in manifest["members"]:
        data = (site.logs / os.path.basename(member["path"])).read_bytes()
        assert contents[member["name"]] == data
        assert member["sha256"] == sha256(data) and member["size"] == len(data)
        assert member["changed_while_read"] is False
    with open(built["archive"], "rb") as stream:
        assert manifest["archive"]["sha256"] == sha256(stream.read()) == built["sha256"]
    assert stat.S_IMODE(os.stat(built["archive"]).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(site.staging)).st_mode) == 0o700
    assert built["input_bytes"] == sum(member["size"] for member in manifest["members"])


@needs_zstd
def test_a_second_run_in_the_period_reuses_the_archive(site):
    site.write("syslog", syslog_lines(100))
    first = site.archive()
    site.write("syslog.1", syslog_lines(50))
    again = site.archive()
    assert again["status"] == "reused" and again["changed"] is False
    assert again["sha256"] == first["sha256"] and again["members"] == 1
    assert sorted(os.listdir(str(site.staging))) == [".lock", "web01_%s.manifest.json" % KEY, first["name"]]


def test_check_mode_plans_without_writing(site):
    site.write("syslog", syslog_lines(10))
    planned = site.archive(check_mode=True)
    assert planned["status"] == "planned" and planned["changed"] is True and planned["archive"] is None
    assert planned["selected"] == [str(site.logs / "syslog")] and planned["period_key"] == KEY
    assert not site.staging.exists()


@pytest.mark.parametrize("staged", [False, True])
def test_check_mode_warns_of_an_empty_selection(site, staged):
    if staged:
        site.staging.mkdir(mode=0o700)
    options = params(host="web01", paths=[str(site.logs / "*.none")], period_key=KEY,
                     staging_dir=str(site.staging))
    result, warnings = log_archive.run(options, True, NOW, None)
    assert result["status"] == "planned" and result["members"] == 0 and result["period_key"] == KEY
    assert warnings == ["no file matched paths; the archive of %s is empty" % KEY]
    if staged:
        assert [name for name in os.listdir(str(site.staging)) if name != ".lock"] == []
    else:
        assert not site.staging.exists()


def test_gzip_is_the_fallback_without_zstd(site):
    site.write("syslog", syslog_lines(500))
    built = site.archive(zstd=None)
    assert built["compression"] == "gzip" and built["name"].endswith(".tar.gz")
    assert read_archive(built["archive"]) == {str(site.logs / "syslog").lstrip("/"): syslog_lines(500)}


def test_zstd_required_but_missing_fails_clearly(site):
    with pytest.raises(ValueError, match="install the zstd package"):
        site.archive(zstd=None, compression="zstd")


@pytest.mark.parametrize("compression, level", [("gzip", 0), ("gzip", 10), ("zstd", 20)])
def test_levels_out_of_range_are_refused(site, compression, level):
    with pytest.raises(ValueError, match="compression_level must be between"):
        site.archive(compression=compression, compression_level=level, zstd="/usr/bin/zstd")


def test_selection_by_globs_exclusions_age_and_file_type(site):
    site.write("syslog", b"now\n")
    site.write("syslog.1", b"a day old\n", age=86400 + 60)
    site.write("syslog.5.gz", b"ten days old\n", age=10 * 86400)
    site.write("debug.log", b"excluded by name\n")
    (site.logs / "app").mkdir()
    site.write("app/app.log", b"nested\n")
    os.symlink("/etc/passwd", str(site.logs / "passwd.log"))
    globs = [str(site.logs / "*"), str(site.logs / "**" / "*.log"), "/nonexistent/*.log"]
    built = site.archive(zstd=None, paths=globs, exclude=["debug.log"], max_age="2d")
    assert built["selected"] == [str(site.logs / name) for name in ("syslog", "syslog.1", "app/app.log")]
    reasons = dict((item["path"], item["reason"]) for item in built["skipped"])
    assert reasons == {
        str(site.logs / "debug.log"): "excluded",
        str(site.logs / "passwd.log"): "symbolic link (not followed)",
        str(site.logs / "syslog.5.gz"): "older than max_age",
    }
    assert built["unmatched"] == ["/nonexistent/*.log"]
    young = site.archive(zstd=None, period_key="2025-11-29", min_age="1h", exclude=["/*/log/debug.*"])
    assert young["selected"] == [str(site.logs / name) for name in ("syslog.1", "syslog.5.gz")]


def test_the_staging_directory_never_archives_itself(site):
    site.write("syslog", b"x\n")
    site.staging.mkdir(mode=0o700)
    (site.staging / "web01_2025-11-27.manifest.json").write_text("{}")
    built = site.archive(zstd=None, paths=[str(site.root / "**")])
    assert all(not path.startswith(str(site.staging)) for path in built["selected"])


def test_relative_globs_are_refused(site):
    with pytest.raises(ValueError, match="absolute"):
        site.archive(paths=["var/log/*.log"])


def test_an_empty_selection_gives_an_empty_archive_and_a_warning(site):
    result, warnings = log_archive.run(params(host="web01", paths=[str(site.logs / "*.none")], period_key=KEY,
                                              staging_dir=str(site.staging)), False, NOW, None)
    assert result["members"] == 0 and result["status"] == "created"
    assert warnings == ["no file matched paths; the archive of %s is empty" % KEY]


def test_a_failure_mid_archive_leaves_no_archive_and_no_manifest(site, monkeypatch):
    site.write("a.log", b"first\n")
    site.write("b.log", b"second\n")
    real = _logarchive_build._add_member
    calls = []

    def failing(tar, path, names):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(tar, path, names)

    monkeypatch.setattr(_logarchive_build, "_add_member", failing)
    with pytest.raises(ArchiveError, match="No space left on device"):
        site.archive(zstd=None)
    assert os.listdir(str(site.staging)) == [".lock"]


@needs_zstd
def test_what_a_killed_run_left_is_removed_and_the_next_run_completes(site):
    site.write("syslog", syslog_lines(100))
    site.staging.mkdir(mode=0o700)
    partial = site.staging / (".web01_%s.tar.zst.x1y2.partial" % KEY)
    partial.write_bytes(b"(half an archive)")
    orphan = site.staging / ("web01_%s.tar.zst" % KEY)
    orphan.write_bytes(b"renamed, but its manifest never written")
    built = site.archive()
    assert built["status"] == "created"
    assert str(partial) in built["removed"] and not partial.exists()
    assert read_archive(built["archive"])


def test_member_reader_pads_a_file_that_shrank_while_read():
    reader = MemberReader(io.BytesIO(b"12345"), 8)
    assert reader.read(3) + reader.read(10) == b"12345\0\0\0"
    assert reader.read(10) == b""
    assert reader.padded == 3
    assert reader.digest.hexdigest() == sha256(b"12345\0\0\0")


def test_member_reader_stops_at_the_size_of_a_file_that_grew():
    reader = MemberReader(io.BytesIO(b"1234567890"), 4)
    assert reader.read() == b"1234" and reader.read() == b"" and reader.padded == 0


def test_the_owner_gets_the_archive(site):
    site.write("syslog", b"x\n")
    me = pwd.getpwuid(os.getuid()).pw_name
    built = site.archive(zstd=None, owner=me)
    assert os.stat(built["archive"]).st_uid == os.getuid()
    with pytest.raises(ArchiveError, match="not a user on this host"):
        site.archive(zstd=None, owner="no-such-user-here", period_key="2025-11-29")


# ---------------------------------------------------------------- commit at the destination

@needs_zstd
def test_commit_counts_a_copy_whose_checksum_matches(site):
    site.write("syslog", syslog_lines(500))
    built = site.archive()
    committed = site.commit(built)
    assert committed["status"] == "verified" and committed["changed"] is True
    final = site.dest / built["name"]
    assert committed["archive"] == str(final)
    assert sorted(os.listdir(str(site.dest))) == [".lock", "web01_%s.manifest.json" % KEY, built["name"],
                                                  built["name"] + ".sha256"]
    manifest = site.dest / ("web01_%s.manifest.json" % KEY)
    sums = read_marker(str(final) + ".sha256")
    assert sums == {built["name"]: sha256(final.read_bytes()), manifest.name: sha256(manifest.read_bytes())}
    check = subprocess.run(["sha256sum", "-c", built["name"] + ".sha256"], cwd=str(site.dest),
                           stdout=subprocess.PIPE, check=False)
    assert check.returncode == 0


@needs_zstd
def test_commit_twice_in_a_period_keeps_one_archive(site):
    site.write("syslog", syslog_lines(50))
    built = site.archive()
    site.commit(built, tag="run1")
    again = site.commit(built, tag="run2")
    assert again["status"] == "already_verified" and again["changed"] is False
    assert [name for name in os.listdir(str(site.dest)) if name.endswith(".part")] == []


@needs_zstd
def test_a_verified_archive_of_the_period_is_kept_over_another_copy(site, tmp_path):
    site.write("syslog", syslog_lines(50))
    built = site.archive()
    site.commit(built)
    other = Site(tmp_path / "other")
    other.write("syslog", syslog_lines(60))
    rebuilt = other.archive()
    other.dest = site.dest
    part, manifest_part = other.ship(rebuilt, "run2")
    options = params(state="commit", src=str(part), manifest_src=str(manifest_part), dest_dir=str(site.dest),
                     sha256=rebuilt["sha256"])
    result, warnings = log_archive.run(options, False, NOW, ZSTD)
    assert result["status"] == "kept_existing" and result["sha256"] == built["sha256"]
    assert "is kept" in warnings[0]


@needs_zstd
def test_a_damaged_copy_is_discarded_and_never_counted(site):
    site.write("syslog", syslog_lines(500))
    built = site.archive()
    part, manifest_part = site.ship(built)
    data = bytearray(part.read_bytes())
    data[100] ^= 0xFF
    part.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="damaged in transit"):
        run(state="commit", src=str(part), manifest_src=str(manifest_part), dest_dir=str(site.dest),
            sha256=built["sha256"])
    assert os.listdir(str(site.dest)) == [".lock"]


@needs_zstd
def test_commit_in_check_mode_checks_but_moves_nothing(site):
    site.write("syslog", syslog_lines(50))
    built = site.archive()
    result = site.commit(built, check_mode=True)
    assert result["status"] == "verified" and result["changed"] is True
    assert not (site.dest / built["name"]).exists()


def test_commit_wants_a_sha256():
    with pytest.raises(ValueError, match="sha256 must be a SHA-256"):
        run(state="commit", src="/nonexistent", manifest_src="/nonexistent", dest_dir="/nonexistent",
            sha256="abc")


# ---------------------------------------------------------------- verify and restore

@needs_zstd
def test_verify_tells_verified_unverified_and_corrupt_apart(site):
    site.write("syslog", syslog_lines(300))
    first = site.archive(period_key="2025-11-26")
    site.commit(first)
    second = site.archive(period_key="2025-11-27")
    site.commit(second)
    third = site.archive(period_key="2025-11-28")
    part, manifest_part = site.ship(third)
    os.rename(str(part), str(site.dest / third["name"]))
    os.rename(str(manifest_part), str(site.dest / "web01_2025-11-28.manifest.json"))
    damaged = site.dest / second["name"]
    data = bytearray(damaged.read_bytes())
    data[-20] ^= 0x01
    damaged.write_bytes(bytes(data))

    shallow = run(state="verify", dest_dir=str(site.dest), depth="marker")
    assert [(item["name"], item["status"]) for item in shallow["archives"]] == [
        (first["name"], "verified"), (second["name"], "verified"), (third["name"], "unverified")]
    deep = run(state="verify", dest_dir=str(site.dest), depth="checksum")
    assert deep["counts"] == {"verified": 1, "unverified": 1, "corrupt": 1}
    assert deep["latest_verified"] == first["name"]
    assert "its manifest says" in deep["archives"][1]["problems"][0]
    assert "no verification marker" in deep["archives"][2]["problems"][0]
    one = run(state="verify", dest_dir=str(site.dest), period_key="2025-11-27", depth="marker")
    assert [item["name"] for item in one["archives"]] == [second["name"]]


@needs_zstd
def test_members_depth_finds_a_manifest_that_lies_about_a_member(site):
    site.write("syslog", syslog_lines(300))
    built = site.archive()
    site.commit(built)
    manifest_path = site.dest / ("web01_%s.manifest.json" % KEY)
    manifest = load(str(manifest_path))
    manifest["members"][0]["sha256"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest))
    marker = site.dest / (built["name"] + ".sha256")
    marker.write_text(marker_text(built["name"], built["sha256"], manifest_path))
    assert run(state="verify", dest_dir=str(site.dest), depth="checksum")["counts"]["verified"] == 1
    deep = run(state="verify", dest_dir=str(site.dest), depth="members")
    assert deep["counts"]["corrupt"] == 1
    assert "does not match its manifest" in deep["archives"][0]["problems"][0]


def test_verify_of_a_missing_directory_reports_nothing(tmp_path):
    result = run(state="verify", dest_dir=str(tmp_path / "none"))
    assert result["archives"] == [] and result["latest_verified"] is None and result["changed"] is False


@needs_zstd
def test_extract_restores_the_latest_verified_archive(site, tmp_path):
    site.write("syslog", syslog_lines(400), age=3600)
    site.write("syslog.1", syslog_lines(200, "old"), age=86400)
    site.commit(site.archive(period_key="2025-11-27"))
    site.write("syslog", syslog_lines(500), age=60)
    site.commit(site.archive())
    restore = tmp_path / "restore"
    result = run(state="verify", dest_dir=str(site.dest), depth="members", extract="latest",
                 extract_dir=str(restore))
    assert result["changed"] is True and result["extracted"]["archive"] == "web01_%s.tar.zst" % KEY
    restored = restore / str(site.logs / "syslog").lstrip("/")
    assert restored.read_bytes() == syslog_lines(500)
    assert stat.S_IMODE(restored.stat().st_mode) == 0o600
    assert restored.stat().st_mtime_ns == (site.logs / "syslog").stat().st_mtime_ns
    assert result["extracted"]["bytes"] == len(syslog_lines(500)) + len(syslog_lines(200, "old"))
    with pytest.raises(ArchiveError, match="already exists"):
        run(state="verify", dest_dir=str(site.dest), extract="latest", extract_dir=str(restore))


@needs_zstd
def test_extract_refuses_an_unverified_archive_and_writes_nothing_in_check_mode(site, tmp_path):
    site.write("syslog", syslog_lines(10))
    built = site.archive()
    part, manifest_part = site.ship(built)
    os.rename(str(part), str(site.dest / built["name"]))
    os.rename(str(manifest_part), str(site.dest / ("web01_%s.manifest.json" % KEY)))
    with pytest.raises(ArchiveError, match="holds no verified archive"):
        run(state="verify", dest_dir=str(site.dest), extract="latest", extract_dir=str(tmp_path / "r"))
    with pytest.raises(ArchiveError, match="is unverified, so it is not extracted"):
        run(state="verify", dest_dir=str(site.dest), extract=built["name"], extract_dir=str(tmp_path / "r"))
    site.commit(site.archive(period_key="2025-11-29"))
    planned = run(check_mode=True, state="verify", dest_dir=str(site.dest), extract="latest",
                  extract_dir=str(tmp_path / "r"))
    assert planned["extracted"]["archive"] == "web01_2025-11-29.tar.zst"
    assert planned["extracted"]["files"] == []
    assert not (tmp_path / "r").exists()


def test_reading_zstd_archives_back_without_zstd_fails_clearly(site):
    site.dest.mkdir(parents=True)
    (site.dest / ("web01_%s.tar.zst" % KEY)).write_bytes(b"x")
    with pytest.raises(ArchiveError, match="needs the zstd command"):
        run(state="verify", dest_dir=str(site.dest), depth="members", zstd=None)


# ---------------------------------------------------------------- retention

def committed_series(site, ages):
    """Verified archives at the destination: {period key: created so many seconds ago}."""
    site.write("syslog", syslog_lines(20))
    for key, age in sorted(ages.items()):
        site.commit(site.archive(zstd=None, period_key=key, now=NOW - age))


@pytest.mark.parametrize("keep_days, keep_count, kept", [
    (0, 1, ["2025-11-28"]),
    (0, 0, ["2025-11-28"]),
    (0, 3, ["2025-11-26", "2025-11-27", "2025-11-28"]),
    (2, 1, ["2025-11-27", "2025-11-28"]),
    (30, 1, ["2025-11-24", "2025-11-25", "2025-11-26", "2025-11-27", "2025-11-28"]),
])
def test_retention_keeps_days_and_counts(site, keep_days, keep_count, kept):
    ages = dict(("2025-11-%d" % (28 - days), days * 86400 + 60) for days in range(5))
    committed_series(site, ages)
    result = run(state="retain", dest_dir=str(site.dest), keep_days=keep_days, keep_count=keep_count)
    assert result["kept"] == ["web01_%s.tar.gz" % key for key in kept]
    assert result["protected"] == "web01_2025-11-28.tar.gz"
    left = sorted(name for name in os.listdir(str(site.dest)) if name.endswith(".tar.gz"))
    assert left == result["kept"]
    for key in ages:
        if key not in kept:
            assert not (site.dest / ("web01_%s.manifest.json" % key)).exists()
            assert not (site.dest / ("web01_%s.tar.gz.sha256" % key)).exists()


def test_retention_never_deletes_the_last_archive_that_verifies(site):
    committed_series(site, {"2025-11-27": 86400 * 40, "2025-11-28": 86400 * 39})
    newest = site.dest / "web01_2025-11-28.tar.gz"
    data = bytearray(newest.read_bytes())
    data[-10] ^= 0x01
    newest.write_bytes(bytes(data))
    result = run(state="retain", dest_dir=str(site.dest), keep_days=7, keep_count=0)
    assert result["protected"] == "web01_2025-11-27.tar.gz"
    assert result["kept"] == ["web01_2025-11-27.tar.gz"]
    assert result["deleted_archives"] == ["web01_2025-11-28.tar.gz"]


def test_retention_removes_stale_leftovers_only(site):
    committed_series(site, {"2025-11-28": 60})
    old_part = site.dest / ".web01_2025-11-20.tar.gz.run0.part"
    fresh_part = site.dest / ".web01_2025-11-28.tar.gz.run9.part"
    unverified = site.dest / "web01_2025-11-21.tar.gz"
    for path in (old_part, fresh_part, unverified):
        path.write_bytes(b"partial")
    for path in (old_part, unverified):
        os.utime(str(path), (NOW - 3 * 86400, NOW - 3 * 86400))
    check = run(check_mode=True, state="retain", dest_dir=str(site.dest))
    assert check["changed"] is True and old_part.exists()
    result = run(state="retain", dest_dir=str(site.dest))
    assert result["deleted_files"] == [old_part.name]
    assert result["deleted_archives"] == [unverified.name]
    assert fresh_part.exists() and not old_part.exists() and not unverified.exists()
    assert run(state="retain", dest_dir=str(site.dest))["changed"] is False


# ---------------------------------------------------------------- confirm and clean-up

@needs_zstd
def test_confirm_marks_the_local_manifest_once(site):
    site.write("syslog", syslog_lines(50))
    built = site.archive()
    committed = site.commit(built)
    options = dict(state="confirm", host="web01", period_key=KEY, staging_dir=str(site.staging),
                   sha256=committed["sha256"], manifest_sha256=committed["manifest_sha256"])
    assert run(check_mode=True, **options)["changed"] is True
    assert not os.path.exists(built["archive"] + ".sha256")
    first = run(**options)
    assert first["status"] == "confirmed" and first["changed"] is True
    assert read_marker(built["archive"] + ".sha256")[built["name"]] == built["sha256"]
    assert run(**options)["changed"] is False


def test_confirm_refuses_another_archive_and_a_missing_manifest(site):
    site.write("syslog", b"x\n")
    built = site.archive(zstd=None)
    options = dict(state="confirm", host="web01", period_key=KEY, staging_dir=str(site.staging))
    mismatched = params(sha256="1" * 64, manifest_sha256=built["manifest_sha256"], **options)
    result, warnings = log_archive.run(mismatched, False, NOW, None)
    assert result["status"] == "mismatch" and result["changed"] is False and "another archive" in warnings[0]
    assert not os.path.exists(built["archive"] + ".sha256")
    options["period_key"] = "2025-01-01"
    absent = run(sha256="1" * 64, manifest_sha256="2" * 64, **options)
    assert absent["status"] == "absent"


def test_cleanup_deletes_only_unchanged_rotated_logs_of_verified_archives(site):
    active = site.write("syslog", b"active\n")
    rotated = site.write("syslog.1", b"rotated yesterday\n", age=86400)
    rotated_gz = site.write("syslog.2.gz", gzip.compress(b"older\n"), age=2 * 86400)
    rewritten = site.write("app.log.1", b"rotated, then written again\n", age=86400)
    site.backed_up(zstd=None)
    rewritten.write_bytes(b"rotated, then written again!\n")
    late = site.write("kern.log.1", b"rotated after the backup\n")

    planned = run(check_mode=True, state="cleanup", staging_dir=str(site.staging))
    planned_paths = sorted(item["path"] for item in planned["deleted_sources"])
    assert planned_paths == sorted([str(rotated), str(rotated_gz)])
    assert rotated.exists()
    result = run(state="cleanup", staging_dir=str(site.staging))
    assert result["changed"] is True
    assert result["bytes_freed"] == len(b"rotated yesterday\n") + rotated_gz_size(site)
    assert not rotated.exists() and not rotated_gz.exists()
    assert active.exists() and rewritten.exists() and late.exists()
    assert run(state="cleanup", staging_dir=str(site.staging))["changed"] is False


def rotated_gz_size(site):
    manifest = load(str(site.staging / ("web01_%s.manifest.json" % KEY)))
    return next(member["size"] for member in manifest["members"] if member["path"].endswith("syslog.2.gz"))


def test_cleanup_needs_a_verified_manifest(site):
    rotated = site.write("syslog.1", b"rotated\n", age=86400)
    site.archive(zstd=None)
    assert run(state="cleanup", staging_dir=str(site.staging))["deleted_sources"] == []
    assert rotated.exists()


def test_cleanup_never_deletes_a_file_that_changed_while_read(site):
    rotated = site.write("syslog.1", b"rotated\n", age=86400)
    site.backed_up(zstd=None)
    manifest_path = site.staging / ("web01_%s.manifest.json" % KEY)
    manifest = load(str(manifest_path))
    manifest["members"][0]["changed_while_read"] = True
    manifest_path.write_text(json.dumps(manifest))
    marker = site.staging / ("web01_%s.tar.gz.sha256" % KEY)
    marker.write_text(marker_text(manifest["archive"]["name"], manifest["archive"]["sha256"], manifest_path))
    assert run(state="cleanup", staging_dir=str(site.staging))["deleted_sources"] == []
    assert rotated.exists()


def test_archives_of_earlier_periods_leave_the_staging_directory(site):
    site.write("syslog", b"x\n")
    site.backed_up(zstd=None, period_key="2025-11-26")
    site.archive(zstd=None, period_key="2025-11-27")
    built = site.archive(zstd=None, keep_manifests=1)
    assert sorted(os.listdir(str(site.staging))) == [
        ".lock", "web01_2025-11-26.manifest.json", "web01_2025-11-26.tar.gz.sha256",
        "web01_%s.manifest.json" % KEY, built["name"]]
    assert str(site.staging / "web01_2025-11-27.tar.gz") in built["removed"]


# ---------------------------------------------------------------- locking

def test_a_held_lock_makes_a_second_run_wait_then_fail_clearly(site):
    site.write("syslog", b"x\n")
    site.staging.mkdir(mode=0o700)
    lock = site.staging / ".lock"
    lock.write_text("pid 4242 (archive web01_2025-11-28) since 2025-11-28T23:00:00+0900\n")
    fd = os.open(str(lock), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        started = time.monotonic()
        with pytest.raises(LockTimeout, match=r"waited 1 s for the lock .*\.lock, held by pid 4242"):
            site.archive(zstd=None, lock_timeout=1)
        assert time.monotonic() - started >= 1
    finally:
        os.close(fd)
    assert site.archive(zstd=None, lock_timeout=1)["status"] == "created"


def test_readers_share_the_destination_lock(site):
    committed_series(site, {"2025-11-28": 60})
    lock = site.dest / ".lock"
    fd = os.open(str(lock), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        assert run(state="verify", dest_dir=str(site.dest), lock_timeout=0)["counts"]["verified"] == 1
        with pytest.raises(LockTimeout):
            run(state="retain", dest_dir=str(site.dest), lock_timeout=0)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- the module as Ansible runs it

def run_module(capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        log_archive.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


def test_main_archives_and_reports(capsys, site):
    site.write("syslog", syslog_lines(10))
    code, result = run_module(capsys, dict(host="web01", paths=[str(site.logs / "*")], period_key=KEY,
                                           staging_dir=str(site.staging), compression="gzip"))
    assert code == 0 and result["changed"] is True and result["state"] == "archive"
    assert result["name"] == "web01_%s.tar.gz" % KEY


def test_main_in_check_mode_writes_nothing(capsys, site):
    site.write("syslog", syslog_lines(10))
    code, result = run_module(capsys, dict(host="web01", paths=[str(site.logs / "*")], period_key=KEY,
                                           staging_dir=str(site.staging), _ansible_check_mode=True))
    assert code == 0 and result["status"] == "planned" and not site.staging.exists()


@pytest.mark.parametrize("args, message", [
    (dict(state="archive", host="web01"), "paths"),
    (dict(state="commit", src="/a", manifest_src="/b", dest_dir="/c"), "sha256"),
    (dict(state="verify", dest_dir="/c", extract="latest"), "extract_dir"),
    (dict(state="retain", dest_dir="/c", keep_count=-1), "keep_count must be 0 or more"),
    (dict(state="archive", host="web01", paths=["/var/log/x"], period_key="2025_11"), "period_key must"),
    (dict(state="archive", host="web01", paths=["/var/log/x"], min_age="soon"), "min_age must"),
])
def test_main_fails_on_bad_options_naming_them(capsys, args, message):
    code, result = run_module(capsys, args)
    assert code == 1 and result["failed"] is True and message in result["msg"]
