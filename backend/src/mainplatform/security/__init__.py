"""Passwords, tokens and client identity."""
