"""Secrets and tokens, login throttling, safe URL fetching; may import store/ and below."""
