"""A run store holding one month (November 2026, Japan time) of operations, for the report's tests.

Everything goes in the way opsrun puts it there: runs through store.record_run, incidents through
open_incidents_from_findings and take_action. The figures the report must compute from it are
the EXPECTED_* constants below, worked out by hand from what is recorded.

Health checks run every day at 00:30 JST, from 2026-11-01 to 2026-12-01: the first is still
October in UTC, the last is still November in UTC, so the month's runs depend on the time zone.
"""

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from opsrun.design.schema import OpsDesign
from opsrun.incidents import SYSTEM_ACTOR, Action, open_incidents_from_findings, take_action
from opsrun.results import HostStats, RunRecord
from opsrun.store import Store, open_store, record_run

TOKYO = ZoneInfo("Asia/Tokyo")
MONTH = "2026-11"
HOSTS = ("db01", "web01", "web02")

DESIGN_DATA: dict[str, Any] = {
    "version": 1,
    "scope": {
        "inventory": "hosts.yml",
        "hosts": ["all"],
        "exclude": ["lab*"],
        "layers": ["os", "middleware"],
    },
    "contacts": {
        "oncall": {"email": "oncall@example.com"},
        "lead": {"email": "lead@example.com"},
        "client-admin": {"email": "admin@client.example.jp"},
    },
    "escalation": [
        {"name": "l1", "contacts": ["oncall"], "ack_minutes": 15},
        {"name": "l2", "contacts": ["lead"], "ack_minutes": 30, "may_approve": ["change"]},
        {
            "name": "client",
            "contacts": ["client-admin"],
            "ack_minutes": 240,
            "may_approve": ["permanent_fix"],
        },
    ],
    "calendar": {
        "timezone": "Asia/Tokyo",
        "freezes": [{"from": "2026-11-27", "until": "2026-11-30", "reason": "決算準備"}],
        "maintenance_windows": [
            {"name": "weekly", "weekly": {"days": ["sun"], "start": "01:00", "end": "05:00"}},
            {"dated": {"from": "2026-11-15T00:00", "until": "2026-11-15T06:00"}},
        ],
    },
    "routines": {
        "daily-health": {"schedule": "30 0 * * *", "steps": [{"playbook": "health_check"}]},
        "cleanup": {
            "schedule": "0 2 * * sun",
            "steps": [{"name": "clean tmp", "playbook": "ping", "change": True}],
        },
    },
    "incidents": {
        "runbooks": [
            {
                "name": "disk-full",
                "match": {"check": "disk"},
                "first_response": [{"name": "remove old temp files", "playbook": "diagnostics"}],
                "escalate_to": ["l2", "client"],
            },
            {"name": "host-down", "match": {"check": "reachable"}, "escalate_to": ["l2"]},
        ]
    },
}
DESIGN = OpsDesign.model_validate(DESIGN_DATA)

# Health-check runs of November (JST) that list each host, and those in which it was available:
# web02 is unreachable on the 10th and 11th, db01 fails its check (disk crit) on the 20th.
EXPECTED_AVAILABILITY = {"db01": (30, 29), "web01": (30, 30), "web02": (30, 28)}
EXPECTED_AVAILABILITY_SHARE = {"db01": Fraction(29, 30), "web01": Fraction(1), "web02": Fraction(28, 30)}
# Opened in November: disk on db01 (ack after 15 min, mitigated after 45 min), web02 down (ack
# after 60 min, no mitigation, resolved after 180 min), disk on web01 on the 29th (never acked).
EXPECTED_OPENED = 3
# Resolved in November: the two above and the one opened in October.
EXPECTED_RESOLVED = 3
EXPECTED_OPEN_AT_END = 1
EXPECTED_MTTA = timedelta(minutes=(15 + 60) / 2)
EXPECTED_MTTR = timedelta(minutes=(45 + 180) / 2)
EXPECTED_APPROVALS = 1
# patching (15th) and service_restart (16th); with ops.yml also the cleanup routine's change step.
EXPECTED_CHANGES_WITHOUT_DESIGN = 2
EXPECTED_CHANGES_WITH_DESIGN = 3
MIB = 1024 * 1024


def jst(day: int, hour: int = 0, minute: int = 0, month: int = 11) -> datetime:
    year = 2026
    if month == 13:
        year, month = 2027, 1
    return datetime(year, month, day, hour, minute, tzinfo=TOKYO)


def _record(
    run_id: str,
    playbook: str,
    at: datetime,
    *,
    hosts: dict[str, HostStats],
    published: dict[str, Any],
    check: bool = False,
    failed: bool = False,
) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        playbook=playbook,
        playbook_path=f"{playbook}.yml",
        inventory=["hosts.yml"],
        limit=None,
        check=check,
        diff=False,
        started=at,
        finished=at + timedelta(minutes=2),
        rc=2 if failed else 0,
        status="failed" if failed else "successful",
        exit_code=2 if failed else 0,
        hosts=hosts,
        published=published,
    )


def _finding(host: str, check: str, item: str, *, status: str, value: Any, message: str) -> dict[str, Any]:
    return {
        "host": host,
        "check": check,
        "item": item,
        "status": status,
        "value": value,
        "threshold": None,
        "message": message,
    }


def _level(value: float) -> str:
    return "crit" if value >= 90 else "warn" if value >= 80 else "ok"


def health_findings(day: int, *, month: int = 11) -> tuple[dict[str, HostStats], list[dict[str, Any]]]:
    """The host counts and findings of the health check of a day (values depend on the day)."""
    web01_disk = 92.0 if (month, day) == (11, 29) else 40.0 + day * 0.5
    db01_disk = 91.0 if (month, day) == (11, 20) else 55.0 + day
    web02_down = (month, day) in {(11, 10), (11, 11)}
    findings = [
        _finding(
            "db01",
            "disk",
            "/",
            status=_level(db01_disk),
            value=db01_disk,
            message=f"disk of / used: {db01_disk}%",
        ),
        _finding("db01", "memory", "available", status="ok", value=50.0, message="memory available: 50.0%"),
        _finding(
            "web01",
            "disk",
            "/",
            status=_level(web01_disk),
            value=web01_disk,
            message=f"disk of / used: {web01_disk}%",
        ),
        _finding(
            "web01",
            "memory",
            "available",
            status="ok",
            value=70.0 - day,
            message=f"memory available: {70.0 - day}%",
        ),
    ]
    if web02_down:
        findings.append(
            _finding(
                "web02",
                "reachable",
                "connection",
                status="crit",
                value=False,
                message="the host did not answer",
            )
        )
    else:
        findings.append(
            _finding("web02", "disk", "/", status="ok", value=30.0, message="disk of / used: 30.0%")
        )
    hosts = {
        "db01": HostStats(ok=3, failed=1 if (month, day) == (11, 20) else 0),
        "web01": HostStats(ok=3),
        "web02": HostStats(unreachable=1) if web02_down else HostStats(ok=3),
    }
    return hosts, findings


def _health_run(store: Store, day: int, *, month: int = 11) -> tuple[str, RunRecord]:
    hosts, findings = health_findings(day, month=month)
    at = jst(day, 0, 30, month=month)
    run_id = f"health-{month:02d}{day:02d}"
    published = {"health_check_findings": findings, "health_check_summary": {"crit": 0}}
    record = _record(run_id, "opsrun.ops.health_check", at, hosts=hosts, published=published)
    record_run(store, record, routine="daily-health", step="health_check")
    return run_id, record


def _open(store: Store, record: RunRecord) -> None:
    findings = record.published["health_check_findings"]
    open_incidents_from_findings(store, DESIGN, findings, record.run_id, record.finished)


def _act(store: Store, incident_id: int, action: Action, actor: str, *, at: datetime, note: str = "") -> None:
    take_action(store, DESIGN, incident_id, action, actor=actor, now=at, note=note)


def build_month_store(state_dir: Path) -> Path:
    """Fill the run store of `state_dir` with the fixture month; returns the store file."""
    with open_store(state_dir) as store:
        # Incident 1, opened in October by a crit disk on web01 and resolved on 3 November.
        october = _record(
            "health-1028",
            "health_check",
            jst(28, 0, 30, month=10),
            hosts={"web01": HostStats(ok=3)},
            published={
                "health_check_findings": [
                    _finding(
                        "web01", "disk", "/var", status="crit", value=95.0, message="disk of /var used: 95.0%"
                    )
                ]
            },
        )
        record_run(store, october)
        _open(store, october)
        _act(store, 1, Action.ACK, "oncall", at=jst(2, 9, 0))
        _act(store, 1, Action.RESOLVE, "lead", at=jst(3, 10, 0), note="old logs archived")

        for day in range(1, 31):
            _, record = _health_run(store, day)
            if day in (10, 20, 29):
                _open(store, record)
            opened = record.finished
            if day == 10:  # incident 2: web02 down
                _act(store, 2, Action.ESCALATE, SYSTEM_ACTOR, at=opened + timedelta(minutes=30))
                _act(store, 2, Action.ACK, "lead", at=opened + timedelta(minutes=60))
                _act(
                    store,
                    2,
                    Action.RESOLVE,
                    "lead",
                    at=opened + timedelta(minutes=180),
                    note="switch replaced",
                )
            if day == 20:  # incident 3: disk on db01
                _act(store, 3, Action.ACK, "oncall", at=opened + timedelta(minutes=15))
                _act(
                    store,
                    3,
                    Action.MITIGATE,
                    SYSTEM_ACTOR,
                    at=opened + timedelta(minutes=45),
                    note="removed temp",
                )
                _act(store, 3, Action.PROPOSE_FIX, "lead", at=jst(21, 10), note="grow the volume to 200 GiB")
                _act(store, 3, Action.APPROVE, "client-admin", at=jst(22, 10))
                _act(store, 3, Action.RESOLVE, "lead", at=jst(24, 10), note="volume grown")
        # December 1st 00:30 JST: still November in UTC.
        _health_run(store, 1, month=12)

        patching = {
            "hosts": [
                {
                    "host": "web01",
                    "status": "patched",
                    "check_mode": False,
                    "packages": [
                        {
                            "name": "libssl3",
                            "from": "3.0.15-1~deb12u1",
                            "to": "3.0.17-1~deb12u2",
                            "security": True,
                        },
                        {"name": "bash", "from": "5.2.15-2+b7", "to": "5.2.15-2+b8", "security": False},
                    ],
                    "reboot": {"needed": True, "reasons": ["libssl3"], "done": True},
                    "failure": None,
                },
                {
                    "host": "web02",
                    "status": "patched",
                    "check_mode": False,
                    "packages": [],
                    "reboot": {"needed": False, "reasons": [], "done": False},
                    "failure": None,
                },
            ],
            "not_patched": [],
        }
        planned = {"hosts": [{**patching["hosts"][0], "status": "planned", "check_mode": True}]}
        patch_hosts = {"web01": HostStats(ok=20, changed=4), "web02": HostStats(ok=18)}
        record_run(
            store,
            _record(
                "patch-1114",
                "patching",
                jst(14, 2),
                hosts=patch_hosts,
                published={"patching_report": planned},
                check=True,
            ),
        )
        record_run(
            store,
            _record(
                "patch-1115",
                "patching",
                jst(15, 2),
                hosts=patch_hosts,
                published={"patching_report": patching},
            ),
        )
        restart = {
            "web01": [
                {"service": "nginx", "action": "restart", "status": "restarted", "message": ""},
                {"service": "php-fpm", "action": "reload", "status": "unchanged", "message": ""},
            ]
        }
        record_run(
            store,
            _record(
                "restart-1116",
                "service_restart",
                jst(16, 3),
                hosts={"web01": HostStats(ok=9, changed=1)},
                published={"service_restart_report": restart},
            ),
        )
        record_run(
            store,
            _record(
                "cleanup-1122", "ping", jst(22, 2), hosts={"web01": HostStats(ok=1, changed=1)}, published={}
            ),
            routine="cleanup",
            step="clean tmp",
        )
        for week, day in enumerate((2, 9, 16, 23)):
            outcome = {
                host: {
                    "status": "backed_up",
                    "period_key": f"2026-11-{day - 1:02d}",
                    "archive": f"{host}_2026-11-{day - 1:02d}.tar.zst",
                    "size": MIB * (week + 1),
                    "created_now": True,
                }
                for host in ("web01", "web02")
            }
            if day == 23:
                outcome["web02"] = {
                    "status": "failed",
                    "period_key": "2026-11-22",
                    "message": "backup host full",
                }
            record_run(
                store,
                _record(
                    f"backup-11{day:02d}",
                    "log_backup",
                    jst(day, 1),
                    hosts={"web01": HostStats(ok=5), "web02": HostStats(ok=5)},
                    published={"log_backup": outcome},
                    failed=day == 23,
                ),
            )
        restore = {
            "web01": {
                "counts": {"verified": 4, "unverified": 0, "corrupt": 0},
                "latest_verified": "web01_2026-11-22.tar.zst",
                "corrupt": [],
                "extracted": None,
            },
            "web02": {
                "counts": {"verified": 3, "unverified": 0, "corrupt": 1},
                "latest_verified": "web02_2026-11-15.tar.zst",
                "corrupt": ["web02_2026-11-08.tar.zst"],
                "extracted": None,
            },
        }
        record_run(
            store,
            _record(
                "restore-1128",
                "log_backup_restore_check",
                jst(28, 4),
                hosts={"web01": HostStats(ok=2), "web02": HostStats(ok=1, failed=1)},
                published={"log_backup_restore": restore},
                failed=True,
            ),
        )
        return store.path


def write_ops_file(directory: Path) -> Path:
    """DESIGN_DATA as an ops.yml file in `directory`."""
    path = directory / "ops.yml"
    path.write_text(yaml.safe_dump(DESIGN_DATA, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
