"""Layer-wise relevance propagation (issue 7)."""
__all__: list[str] = []
