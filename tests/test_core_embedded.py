"""The core on the real embedded models (SmolLM2-135M, MiniLM): no-op at init, parameters, training."""

import copy

import pytest
import torch

from crawd import CrawdConfig, CrawdForCausalLM, CrawdForSequenceClassification, CrawdTrainer
from crawd.training import causal_lm_dataset, classification_dataset, lm_collator

pytestmark = pytest.mark.embedded


def _train_losses(model, dataset, collator, *, max_steps: int, batch: int, lr: float) -> list[float]:
    """Train with `CrawdTrainer` (no checkpoints) and return the loss logged at every step."""
    import tempfile

    from transformers import TrainingArguments

    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="crawd-test-"),
        max_steps=max_steps,
        per_device_train_batch_size=batch,
        learning_rate=lr,
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        save_strategy="no",
        logging_steps=1,
    )
    trainer = CrawdTrainer(model=model, args=args, train_dataset=dataset, data_collator=collator)
    trainer.train()
    return [h["loss"] for h in trainer.state.log_history if "loss" in h]


@pytest.fixture(scope="module")
def smol_copy(smollm2):
    base, tok = smollm2
    return copy.deepcopy(base), tok


def test_smollm2_noop_and_parameter_report(smol_copy, smollm2, capsys):
    base, tok = smol_copy
    model = CrawdForCausalLM.from_base(base, tok, CrawdConfig(reference_words="all")).eval()
    batch = tok(["The doctor said that", "My friend is a nurse"], return_tensors="pt", padding=True)
    with torch.no_grad():
        diff = (model(**batch).logits - smollm2[0](**batch).logits).abs().max()
    assert diff <= 1e-5
    report = model.parameter_report()
    model.print_trainable_parameters()
    assert "added (CrAWD block + head)" in capsys.readouterr().out
    assert 0 < report["added"] <= 0.01 * report["base"]
    print(f"SmolLM2-135M + CrAWD (21 words): {report}")
    texts = ["The nurse said that she would call back.", "The engineer said he fixed the pump."] * 8
    model.train()
    losses = _train_losses(
        model, causal_lm_dataset(texts, tok, max_length=16), lm_collator(tok), max_steps=5, batch=4, lr=1e-3
    )
    assert losses[-1] < losses[0]


def test_minilm_classifier_noop_and_training(minilm):
    enc, tok = minilm
    model = CrawdForSequenceClassification.from_base(
        copy.deepcopy(enc), tok, CrawdConfig(reference_words="race"), num_labels=2
    )
    texts = ["what a lovely day", "this is awful and hateful", "great people", "terrible, vile insult"] * 4
    labels = [0, 1, 0, 1] * 4
    batch = tok(texts[:4], return_tensors="pt", padding=True)
    model.eval()
    with torch.no_grad():
        with model.disable_crawd():
            base_logits = model(**batch).logits
        assert (model(**batch).logits - base_logits).abs().max() <= 1e-5
    from transformers import DataCollatorWithPadding

    losses = _train_losses(
        model,
        classification_dataset(texts, labels, tok),
        DataCollatorWithPadding(tok),
        max_steps=8,
        batch=8,
        lr=5e-3,
    )
    assert losses[-1] < losses[0]
