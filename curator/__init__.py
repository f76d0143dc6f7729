"""curator: score training samples by learnability, then curricula, importance sampling and
pruning for PyTorch."""

__version__ = "0.1.0"


def subset(dataset, scores, name):  # noqa: ANN001, ANN201
    """``torch.utils.data.Subset`` of ``dataset`` with the samples of selection ``name`` of the
    scores file ``scores`` (made by ``curator prune``). See :func:`curator.prune.subset`."""
    from curator.prune import subset as _subset

    return _subset(dataset, scores, name)
