"""Cascade (级联): upper-platform links we register to, and lower platforms."""
