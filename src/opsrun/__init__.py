"""opsrun: routine and incident operations for managed servers, run through the opsrun.ops collection."""

import logging
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("opsrun")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"

# Library convention: stay silent unless the command line attaches a handler.
logging.getLogger(__name__).addHandler(logging.NullHandler())
