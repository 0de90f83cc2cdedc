"""Answerers: turn retrieved passages into an answer with citations."""
