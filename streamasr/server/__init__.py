"""The daemon: a sans-I/O session protocol, the websockets shell, metrics, the browser page."""
