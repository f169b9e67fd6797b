"""The On-Model v2 and FASHN v1 server, in layers: http/ over process/ over fashn/ and pipeline/
over services/ over guard/ over store/ over jobqueue/ and media/; errors and settings under all.

A layer imports only layers below it (pyproject.toml's [tool.importlinter] checks it); the app
factory's documented path `vestis.server.app` and `embedded` (the CLI's server) sit on top."""
