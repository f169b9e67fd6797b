"""The HTML review page of a run (`vestis report`); imports runs, quality and contract."""

from vestis.report.html import write_report

__all__ = ["write_report"]
