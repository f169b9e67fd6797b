"""FASHN's `/v1` API on the vestis server, in a room of its own: the predictions table
(`models`), FASHN-shaped errors (`errors`), the service that accepts and runs predictions
(`service`), webhook delivery (`webhooks`) and the routes (`router`). Users, tokens, credits,
engine and blob store are the v2 server's."""
