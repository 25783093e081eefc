"""Outgoing mail: transports and errors."""
