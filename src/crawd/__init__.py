"""crawd: Cross-Attention-based Weight Decay for fair fine-tuning of Hugging Face models."""

from .config import CrawdConfig
from .errors import CrawdDataError, CrawdError, CrawdUsageError
from .layers import CrossAttentionBlock, topk_decay_mask
from .modeling import CrawdForCausalLM, CrawdForSequenceClassification
from .models import load_embedded, load_model
from .training import CrawdTrainer

__version__ = "0.1.0"

__all__ = [
    "CrawdConfig",
    "CrawdDataError",
    "CrawdError",
    "CrawdForCausalLM",
    "CrawdForSequenceClassification",
    "CrawdTrainer",
    "CrawdUsageError",
    "CrossAttentionBlock",
    "load_embedded",
    "load_model",
    "topk_decay_mask",
    "__version__",
]
