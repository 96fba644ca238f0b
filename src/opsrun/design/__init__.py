"""The operations design (ops.yml): its schema, loading with precise errors, checks and rendering.

Only constants live here, so that importing them costs nothing; the schema and its dependencies
(pydantic, holidays) load with the modules that need them.
"""

from typing import Literal

DEFAULT_FILE_NAME = "ops.yml"

Language = Literal["en", "ja"]
Format = Literal["md", "html"]
LANGUAGES: tuple[Language, ...] = ("en", "ja")
FORMATS: tuple[Format, ...] = ("md", "html")
