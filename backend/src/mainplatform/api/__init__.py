"""HTTP routes: thin handlers that parse input, call a service and shape the output."""
