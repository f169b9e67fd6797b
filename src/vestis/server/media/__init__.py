"""Image decoding, size caps, encoding like the source; may import only errors and settings."""
