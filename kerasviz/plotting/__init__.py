"""Matplotlib figure builders: they only draw arrays computed elsewhere.

One module per technique family; the public plot functions are re-exported by
`kerasviz` itself.
"""
