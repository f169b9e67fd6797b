"""The HTML review page of a run (`vestis report`)."""

from vestis.report.html import write_report

__all__ = ["write_report"]
