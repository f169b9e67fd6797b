"""One router module per resource (FASHN's `/v1` routes in `fashn`); imports what http/ may."""
