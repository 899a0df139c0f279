"""Dataset views (issue 6): top-k images and patches, dead/redundant filters, embeddings."""
__all__: list[str] = []
