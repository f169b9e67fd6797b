"""FASHN's `/v1` API on the vestis server: FASHN-shaped errors (`errors`), the service that
accepts and runs predictions (`service`), webhook delivery (`webhooks`, `pool`). Its table is
`store.fashn_models`, its routes `http.routers.fashn`; users, tokens, credits, engine and blob
store are the v2 server's.

May import services/, guard/, store/, jobqueue/, media/ and errors (not pipeline/, its peer)."""
