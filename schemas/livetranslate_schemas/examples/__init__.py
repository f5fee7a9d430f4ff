"""Runnable examples of reading LiveTranslate's topics with this package alone."""
