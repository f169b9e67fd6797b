"""vestis: on-model product imagery at catalogue scale."""

__version__ = "0.1.0"
