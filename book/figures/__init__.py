"""Diagrams drawn with matplotlib at build time for the book's chapters."""
