"""Python client of the apigw-websocket-bridge session protocol."""
