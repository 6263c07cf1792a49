"""The rules of the platform, independent of HTTP."""
