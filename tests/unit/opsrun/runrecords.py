"""A recorded run for tests that need one in the run store before findings can refer to it."""

from datetime import datetime

from opsrun.results import RunRecord


def health_check_run(run_id: str, at: datetime) -> RunRecord:
    """A successful health_check run that started and finished at `at`, with no host stats."""
    return RunRecord(
        run_id=run_id,
        playbook="health_check",
        playbook_path="health_check.yml",
        inventory=[],
        limit=None,
        check=False,
        diff=False,
        started=at,
        finished=at,
        rc=0,
        status="successful",
        exit_code=0,
    )
