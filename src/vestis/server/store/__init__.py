"""Database, tables, migrations, blobs, signed links, data dir, disk; may import jobqueue/ down."""
