"""Attribution maps (issue 4): one module per method over core.gradients."""
__all__: list[str] = []
