"""Fan-out through the local stack: a broadcast's jobs on an SQS queue, the fan-out worker
run by the gateway's poller, its posts answered by a stub `@connections` endpoint.

- `rig`: the API, and per run a queue, DLQ, role, worker function and event source mapping;
- `stub`: the stand-in `@connections` endpoint (latency, gone connections, forced 429s) that
  counts each delivery;
- `run`: one broadcast to N subscribers through it all (the module's worker,
  `ws_bridge.fanout.handler`), with its figures;
- `__main__`: `make bench-fanout`, delivered/s against the number of workers.
"""
