"""The admin API's request and answer models, one module per collection: each is both the
check of a request and its part of `/openapi.json` (declared on the view with `endpoint`)."""
