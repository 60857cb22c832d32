"""API keys with scopes: who may change what."""
