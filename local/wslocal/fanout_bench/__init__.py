"""Fan-out through the local stack: a broadcast's messages on an SQS queue, the worker
function run by the gateway's poller, its posts answered by a stub `@connections` endpoint.

- `rig`: the API, and per run a queue, DLQ, role, worker function and event source mapping;
- `stub`: the stand-in `@connections` endpoint (latency, gone connections, forced 429s) that
  counts each delivery;
- `worker_double`: a worker following the fan-out worker's interface, until the real one is
  measured;
- `run`: one broadcast to N subscribers through it all, with its figures;
- `__main__`: `make bench-fanout`, delivered/s against the number of workers.
"""
