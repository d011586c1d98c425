"""The local stack: an AWS emulator, a WebSocket gateway, a reference backend and a client,
for running the module's deployment on one machine with no cloud account."""
