"""crawd: Cross-Attention-based Weight Decay for fair fine-tuning of Hugging Face models."""

from .config import CrawdConfig
from .errors import CrawdDataError, CrawdError, CrawdUsageError
from .models import load_embedded, load_model

__version__ = "0.1.0"

__all__ = [
    "CrawdConfig",
    "CrawdDataError",
    "CrawdError",
    "CrawdUsageError",
    "load_embedded",
    "load_model",
    "__version__",
]
