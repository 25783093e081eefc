"""The publisher's staff: accounts, roles and second factors for the console."""
