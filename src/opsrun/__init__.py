"""opsrun: routine and incident operations for managed servers, run through the opsrun.ops collection."""

import logging

# The one place the version is written: the package metadata reads it from here (pyproject.toml),
# and a test checks that galaxy.yml gives the collection the same version.
__version__ = "0.1.0"

# Library convention: stay silent unless the command line attaches a handler.
logging.getLogger(__name__).addHandler(logging.NullHandler())
