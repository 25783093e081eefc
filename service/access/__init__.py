"""Who may use the admin API: named API keys, kept as hashes (shared by the web layer and the CLI)."""
