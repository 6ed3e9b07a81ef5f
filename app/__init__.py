"""Backprop Live: watch a neural network learn, one step at a time."""

__version__ = "0.1.0"
