"""Filter decoding with substitution, Rafegas & Vanrell (issue 3)."""
__all__: list[str] = []
