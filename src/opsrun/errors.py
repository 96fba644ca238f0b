"""The one user-facing error class and the exit codes opsrun returns."""

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of the opsrun command.

    HOSTS_FAILED and HOSTS_UNREACHABLE are ansible-playbook's own codes; any other return code of
    ansible-playbook is passed through unchanged. The rest follow sysexits.h.
    """

    OK = 0
    HOSTS_FAILED = 2
    HOSTS_UNREACHABLE = 4
    USAGE = 64
    INTERNAL = 70
    # Not now: another run is changing the same hosts, or the routine waits for an approval
    # (sysexits' EX_TEMPFAIL: try again later).
    BUSY = 75
    # The operations design forbids the step: hosts outside the contract scope, or a change outside
    # the maintenance windows or inside a freeze (sysexits' EX_NOPERM).
    REFUSED = 77
    CONFIG = 78
    INTERRUPTED = 130


class OpsrunError(Exception):
    """An error the user can act on: what failed and where (message), and what to do (hint)."""

    def __init__(self, message: str, *, hint: str = "", exit_code: int = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = int(exit_code)

    def one_line(self) -> str:
        """The message and the hint as a single line for the terminal."""
        return f"{self.message}; {self.hint}" if self.hint else self.message
