"""Feature visualization by optimisation (issue 5): param, objectives, transforms, render."""
__all__: list[str] = []
