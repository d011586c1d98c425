"""The figures of `make bench-handler` (tools/bench_handler.py), one module per job:

- ``measure``     the loopback server, interleaved timing, ratios, the handler's events
- ``push``        the backend SDK's push against its concurrency floor
- ``cold_start``  fresh processes: the connection handler and the authorizer
"""
