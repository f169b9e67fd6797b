"""HTTP edge: app, routers, deps, body caps, OpenAPI, status fast path; may import process/ down."""
