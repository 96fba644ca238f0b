"""The monthly operations report (月次運用報告書): figures from the run store, charts, HTML and Markdown.

Only constants live here; reading the store, plotting (matplotlib) and writing load with the
modules that need them.
"""

from opsrun.design import Format, Language

__all__ = ["DEFAULT_FORMAT", "DEFAULT_LANGUAGE", "Format", "Language"]

DEFAULT_LANGUAGE: Language = "en"
DEFAULT_FORMAT: Format = "html"
