"""curator: score training samples by learnability, then curricula, importance sampling and
pruning for PyTorch."""

__version__ = "0.1.0"
