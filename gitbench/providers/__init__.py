"""Model providers: configuration, the HTTP protocols (OpenAI-compatible, Anthropic), retries and probes.

Imported only by the commands that talk to a model: httpx and tenacity stay out of everyday commands.
"""
