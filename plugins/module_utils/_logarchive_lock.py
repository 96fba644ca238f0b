# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsrun maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A lock on a directory of archives: flock on a ``.lock`` file, waited for a bounded time.

The kernel drops an flock when its holder dies, so a run killed with SIGKILL never leaves a lock
behind. The holder writes its pid and purpose into the file, so a run that gives up waiting can say
who holds the lock.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import os
import time

LOCK_NAME = ".lock"
POLL_SECONDS = 0.2


class LockTimeout(Exception):
    """The lock stayed taken for the whole timeout; the message names the holder and what to do."""


class DirectoryLock:
    """``with DirectoryLock(directory, timeout, purpose):`` holds ``directory/.lock``.

    ``shared`` locks (readers) exclude exclusive ones (writers) but not each other.
    """

    def __init__(self, directory, timeout, purpose, shared=False):
        self.path = os.path.join(directory, LOCK_NAME)
        self.timeout = timeout
        self.purpose = purpose
        self.shared = shared
        self._fd = None

    def _holder(self):
        try:
            with open(self.path, "r") as stream:
                return stream.read(200).strip() or "an unknown process"
        except OSError:
            return "an unknown process"

    def __enter__(self):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        mode = (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, mode)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    os.close(fd)
                    raise
            if time.monotonic() >= deadline:
                holder = self._holder()
                os.close(fd)
                raise LockTimeout(
                    "waited %d s for the lock %s, held by %s: another log backup run is still working "
                    "there. Try again when it has finished, or raise lock_timeout."
                    % (self.timeout, self.path, holder))
            time.sleep(POLL_SECONDS)
        if not self.shared:
            note = "pid %d (%s) since %s" % (os.getpid(), self.purpose, time.strftime("%Y-%m-%dT%H:%M:%S%z"))
            os.ftruncate(fd, 0)
            os.pwrite(fd, note.encode("utf-8") + b"\n", 0)
        self._fd = fd
        return self

    def __exit__(self, *exc_info):
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None
        return False
