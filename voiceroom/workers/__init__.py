"""``voiceroom serve --workers N``: a front process, N worker processes, one room registry.

- ``front``: the public ports; routes each connection to its room's worker (SCM_RIGHTS);
  answers ``/healthz`` and ``/metrics`` for all workers.
- ``supervisor``: spawns, talks to and restarts the workers.
- ``worker``: one worker process (an ordinary ``Server`` fed sockets by the front).
- ``routing``: which worker a request head belongs to (pure).
- ``channel``: the front-worker control channel (msgpack over SOCK_SEQPACKET, with fds).
- ``api_proxy``: the HTTP API port, forwarded per request to the room's worker.
- ``metrics``: every worker's metrics in one exposition.

See docs/adr/0006-workers.md.
"""
