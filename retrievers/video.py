"""Video retriever: clips and whole videos, mean frame embedding fused with transcript text."""

from retrievers.visual import VisualRetriever


class VideoRetriever(VisualRetriever):
    """A clip's frames are sampled inside it; a whole video's frames span all its clips."""
