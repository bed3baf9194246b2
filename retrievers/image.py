"""Image retriever: CLIP embedding of the image fused with its descriptor text."""

from retrievers.visual import VisualRetriever


class ImageRetriever(VisualRetriever):
    """An image item has one frame: the stored (downscaled) image itself."""
